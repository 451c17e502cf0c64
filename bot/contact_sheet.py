"""The before/after contact sheet a LoRA training ends with: the same scenes and seeds without and with the new
LoRA, side by side, with identity scores written under each picture when a scorer is available. Pure drawing."""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image, ImageDraw

from generation.identity import IdentityScore

TILE = 256  # the demo model draws 64 px pictures; a sheet should still be readable
LABEL_HEIGHT = 18
ROW_LABEL_WIDTH = 70


def _caption(score: IdentityScore | None) -> str:
    if score is None:
        return ""
    return f"{score.score:.2f} ({score.method})"


def contact_sheet(
    before: Sequence[Image.Image],
    after: Sequence[Image.Image],
    *,
    before_scores: Sequence[IdentityScore | None] = (),
    after_scores: Sequence[IdentityScore | None] = (),
) -> bytes:
    """A PNG: row "before" over row "after", one column per scene, each tile captioned with its identity score."""
    columns = max(len(before), len(after))
    row_height = TILE + LABEL_HEIGHT
    sheet = Image.new("RGB", (ROW_LABEL_WIDTH + columns * TILE, 2 * row_height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for row, (label, images, scores) in enumerate((("before", before, before_scores), ("after", after, after_scores))):
        top = row * row_height
        draw.text((6, top + TILE // 2), label, fill=(230, 230, 230))
        for column, image in enumerate(images):
            left = ROW_LABEL_WIDTH + column * TILE
            sheet.paste(image.convert("RGB").resize((TILE, TILE), Image.Resampling.LANCZOS), (left, top))
            score = scores[column] if column < len(scores) else None
            draw.text((left + 4, top + TILE + 3), _caption(score), fill=(230, 230, 230))
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
