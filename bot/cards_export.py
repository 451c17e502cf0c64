"""`/persona export` as a character card: a V3 card PNG (`ccv3` and `chara` chunks) whose picture is the persona's
reference, or a placeholder portrait drawn here when it has none.

The persona's avatar is a link the bot cannot fetch offline, and selfies are posted to Discord, not kept on disk;
the reference is the one picture of the persona the bot holds itself. The placeholder is plain shapes in colours
derived from the seed, so every persona gets its own and an export never needs the GPU.
"""

from __future__ import annotations

import asyncio
import colorsys
import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from personas.cards import export_card_png
from personas.models import Persona

PLACEHOLDER_SIZE = (384, 512)  # portrait, the shape card front-ends show


def placeholder_picture(persona: Persona) -> bytes:
    """A portrait silhouette on a gradient in the persona's own colours, with its initial."""
    width, height = PLACEHOLDER_SIZE
    hue = (persona.seed % 360) / 360
    top = tuple(round(c * 255) for c in colorsys.hls_to_rgb(hue, 0.75, 0.45))
    bottom = tuple(round(c * 255) for c in colorsys.hls_to_rgb(hue, 0.35, 0.45))
    image = Image.new("RGB", PLACEHOLDER_SIZE)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        mix = y / (height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(round(a + (b - a) * mix) for a, b in zip(top, bottom, strict=True)))
    figure = (235, 235, 240)
    draw.ellipse([width * 0.32, height * 0.20, width * 0.68, height * 0.47], fill=figure)  # head
    draw.ellipse([width * 0.12, height * 0.52, width * 0.88, height * 1.15], fill=figure)  # shoulders
    initial = (persona.name.strip()[:1] or "?").upper()
    font = ImageFont.load_default(size=72)
    draw.text((width / 2, height * 0.80), initial, fill=bottom, font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def card_picture(persona: Persona) -> bytes:
    """The reference picture when the persona has one on disk, else a placeholder."""
    if persona.reference_path:
        path = Path(persona.reference_path)
        if path.is_file():
            return path.read_bytes()
    return placeholder_picture(persona)


def _card_png(persona: Persona) -> bytes:
    return export_card_png(
        persona,
        picture=card_picture(persona),
        greeting=persona.greeting,
        scenario=persona.scenario,
        card_extras=persona.card_extras,
        prompt_style=persona.prompt_style or None,
    )


async def card_png(persona: Persona) -> bytes:
    """The persona as a V3 card PNG (file reads and PNG writing off the event loop)."""
    return await asyncio.to_thread(_card_png, persona)
