"""Calibration: where between "a copy of the reference" and "a stranger" a persona's look settings should sit.

`calibrate(...)` renders the persona over a small grid of reference (IP-Adapter) scales, and LoRA scales when it has
a LoRA, across contrasting scenes; every picture passes the same safety policy and image check as a selfie. Each
picture is scored for identity against the persona's references, and each setting's pictures for scene sameness
(pictures that look alike whatever the scene mean the reference or LoRA over-constrains them). The proposal is the
setting with the best identity among those whose sameness stays near the most varied setting's. `contact_sheet`
draws every picture with its scores so an admin can look rather than read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bot.best_of import IdentityJudge
from bot.image_check import ImageCheck
from bot.pictures import PictureRefused, scene_request
from bot.settings import Settings
from generation.engine import Engine
from generation.identity import IdentityError, IdentityScore, ScoreMethod
from generation.service import GenerationService
from personas.models import Persona, SceneState

SCENES = (
    ("beach", SceneState(location="beach", outfit="summer dress", time_of_day="sunset")),
    ("cabin", SceneState(location="snowy mountain cabin", outfit="wool sweater", activity="reading by the fire")),
    ("city", SceneState(location="city street", outfit="leather jacket", time_of_day="night", weather="rain")),
)
IP_SCALES = (0.3, 0.6, 0.9)
LORA_SCALES = (0.6, 1.0)
# A setting follows the scene while its pictures are at most this much more alike than the most varied setting's.
SCENE_MARGIN = 0.1
TILE = 128
LABEL_WIDTH = 220
HEADER = 24
WITHHELD_GREY = (128, 128, 128)


class CalibrationRefused(Exception):
    """The persona cannot be calibrated as it is; the message is a sentence for the admin."""


@dataclass(frozen=True)
class Setting:
    """One point of the grid; None leaves that scale out (no reference input, or no LoRA)."""

    ip_scale: float | None
    lora_scale: float | None

    def label(self) -> str:
        parts = []
        if self.ip_scale is not None:
            parts.append(f"reference {self.ip_scale:g}")
        if self.lora_scale is not None:
            parts.append(f"LoRA {self.lora_scale:g}")
        return " · ".join(parts)

    def matches(self, persona: Persona) -> bool:
        return (self.ip_scale is None or abs(self.ip_scale - persona.ip_scale) < 1e-6) and (
            self.lora_scale is None or abs(self.lora_scale - persona.lora_scale) < 1e-6
        )

    def changes(self) -> dict[str, float]:
        """The persona fields that apply this setting."""
        values = {"ip_scale": self.ip_scale, "lora_scale": self.lora_scale}
        return {key: value for key, value in values.items() if value is not None}


@dataclass
class SettingResult:
    setting: Setting
    scores: list[IdentityScore | None]  # one per scene; None where the picture was withheld
    sameness: float | None  # None when it could not be measured (fewer than two pictures, or no CLIP encoder)

    @property
    def identity(self) -> float:
        measured = [score.score for score in self.scores if score is not None]
        return sum(measured) / len(measured) if measured else 0.0

    @property
    def face_share(self) -> float:
        """The share of pictures whose face was found and measured (a selfie should show the face)."""
        return sum(1 for s in self.scores if s is not None and s.method is ScoreMethod.FACE) / len(self.scores)


@dataclass
class Calibration:
    persona: Persona
    results: list[SettingResult]
    images: list[list[Image.Image]]  # [setting][scene], withheld pictures already greyed
    proposed: int

    @property
    def proposal(self) -> Setting:
        return self.results[self.proposed].setting

    def summary(self) -> str:
        best = self.results[self.proposed]
        same = f", scene sameness {best.sameness:.2f}" if best.sameness is not None else ""
        return f"{best.setting.label()} (identity {best.identity:.2f}{same})"


def grid(persona: Persona, *, references_apply: bool) -> list[Setting]:
    ip_scales: Sequence[float | None] = IP_SCALES if references_apply and persona.reference_path else (None,)
    lora_scales: Sequence[float | None] = LORA_SCALES if persona.lora_path else (None,)
    settings = [Setting(ip, lora) for lora in lora_scales for ip in ip_scales]
    if settings == [Setting(None, None)]:
        raise CalibrationRefused(
            f"{persona.name} has no reference picture the model can use and no LoRA, so there is nothing to tune."
        )
    return settings


def propose(results: Sequence[SettingResult]) -> int:
    """The best identity (face-measured pictures first) among settings that still follow the scene."""
    measured = [r.sameness for r in results if r.sameness is not None]
    limit = min(measured) + SCENE_MARGIN if measured else None

    def follows(result: SettingResult) -> bool:
        return limit is None or result.sameness is None or result.sameness <= limit

    candidates = [index for index, result in enumerate(results) if follows(result)]
    return max(candidates, key=lambda index: (results[index].face_share, results[index].identity))


async def calibrate(
    *,
    persona: Persona,
    references: Sequence[Path],
    settings: Settings,
    engine: Engine,
    service: GenerationService,
    judge: IdentityJudge | None,
    image_check: ImageCheck,
    owner: Hashable = None,
) -> Calibration:
    """Render, check, score and propose. Raises CalibrationRefused with a sentence when it cannot."""
    if not references:
        raise CalibrationRefused(f"{persona.name} has no reference picture to compare its pictures with.")
    if judge is None:
        raise CalibrationRefused("I have no way to judge likeness here (no face model and no IP-Adapter).")
    points = grid(persona, references_apply=engine.supports_references)
    try:
        bases = [
            scene_request(persona, scene, purpose="calibration", seed=persona.seed, settings=settings, engine=engine)
            for _, scene in SCENES
        ]
    except PictureRefused as refusal:
        raise CalibrationRefused(f"No calibration: {refusal}") from None
    requests = [
        dataclasses.replace(
            base,
            ip_scale=point.ip_scale if point.ip_scale is not None else base.ip_scale,
            lora_scale=point.lora_scale if point.lora_scale is not None else base.lora_scale,
        )
        for point in points
        for base in bases
    ]
    results = await asyncio.gather(*(service.generate(request, owner=owner) for request in requests))
    pictures: list[Image.Image | None] = []
    for result in results:
        withheld = await image_check.withhold(result.image, must_stay_clothed=True)
        pictures.append(None if withheld else result.image)
    shown = [picture for picture in pictures if picture is not None]
    try:
        scored = iter(await judge.score(references, shown)) if shown else iter(())
    except (IdentityError, OSError) as error:
        raise CalibrationRefused(
            f"I could not compare the pictures with {persona.name}'s reference ({error})."
        ) from None
    scores = [next(scored) if picture is not None else None for picture in pictures]
    per_setting: list[SettingResult] = []
    images: list[list[Image.Image]] = []
    width = len(bases)
    for row, point in enumerate(points):
        row_pictures = pictures[row * width : (row + 1) * width]
        visible = [picture for picture in row_pictures if picture is not None]
        sameness = None
        if len(visible) >= 2:
            try:
                sameness = await judge.scene_sameness(visible)
            except IdentityError:
                sameness = None
        per_setting.append(SettingResult(point, scores[row * width : (row + 1) * width], sameness))
        images.append([p if p is not None else Image.new("RGB", (TILE, TILE), WITHHELD_GREY) for p in row_pictures])
    return Calibration(persona=persona, results=per_setting, images=images, proposed=propose(per_setting))


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # an old Pillow or one without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def contact_sheet(calibration: Calibration) -> bytes:
    """Rows: settings; columns: scenes. Each row's label holds its identity and scene sameness; each tile its own
    identity score; the proposed row is framed. PNG bytes."""
    rows, columns = len(calibration.results), len(SCENES)
    sheet = Image.new("RGB", (LABEL_WIDTH + columns * TILE, HEADER + rows * TILE), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font, small = _font(14), _font(12)
    for column, (name, _) in enumerate(SCENES):
        draw.text((LABEL_WIDTH + column * TILE + 6, 4), name, fill=(230, 230, 230), font=font)
    for row, result in enumerate(calibration.results):
        top = HEADER + row * TILE
        proposed = row == calibration.proposed
        same = f"{result.sameness:.2f}" if result.sameness is not None else "n/a"
        lines = [
            result.setting.label(),
            f"identity {result.identity:.2f}",
            f"scene sameness {same}",
            f"faces found {result.face_share:.0%}",
        ]
        if proposed:
            lines.append("* proposed")
        elif result.setting.matches(calibration.persona):
            lines.append("(current)")
        colour = (255, 215, 90) if proposed else (220, 220, 220)
        for index, line in enumerate(lines):
            draw.text((8, top + 8 + index * 20), line, fill=colour, font=font)
        for column, image in enumerate(calibration.images[row]):
            left = LABEL_WIDTH + column * TILE
            tile = image.convert("RGB").resize((TILE, TILE), Image.Resampling.LANCZOS)
            sheet.paste(tile, (left, top))
            score = result.scores[column]
            text = f"{score.score:.2f} {score.method}" if score is not None else "withheld"
            draw.rectangle((left, top + TILE - 18, left + TILE - 1, top + TILE - 1), fill=(0, 0, 0))
            draw.text((left + 4, top + TILE - 16), text, fill=(255, 255, 255), font=small)
        if proposed:
            draw.rectangle((1, top + 1, sheet.width - 2, top + TILE - 2), outline=(255, 215, 90), width=3)
    buffer = io.BytesIO()
    sheet.save(buffer, format="PNG")
    return buffer.getvalue()
