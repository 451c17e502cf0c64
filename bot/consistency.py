"""How alike a persona's selfies have looked, for admins: figures per look version and a small chart of the scores.

The identity scores come from the selfie records (`PersonaStore.identity_scores` / `identity_summary`). Face and
CLIP scores are not on one scale, so each version's figures use the method most of its selfies were scored with
and say how many others were left out. The chart is drawn with Pillow (no plotting library at run time): one
point per selfie, oldest left, one colour band per look version, misses in red, the IDENTITY_MIN_SCORE line when
one is set. Members never see any of this: only `/persona` (Manage Server, ephemeral) shows it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from personas.storage.look_scores import MethodScores, ScoredSelfie

FACE = "face"
CHART_SIZE = (600, 240)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 40, 12, 22, 30
_BACKGROUND = (255, 255, 255)
_GRID = (225, 225, 225)
_TEXT = (60, 60, 60)
_CURRENT = (66, 103, 210)
_EARLIER = (140, 140, 140)
_MISS = (214, 48, 49)
_THRESHOLD = (230, 140, 20)
_BANDS = ((246, 248, 255), (244, 244, 244))


@dataclass(frozen=True)
class Figures:
    """Identity figures of one look version's scored selfies (of one method)."""

    method: str
    count: int
    mean: float
    p10: float | None  # None where only a summary (count and mean) was read
    misses: int  # every scored selfie of the version that missed IDENTITY_MIN_SCORE, whatever its method
    left_out: int  # scored with the other method: not on the same scale, so not in count/mean/p10


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` quantile with linear interpolation between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _main_method(counts: dict[str, int]) -> str:
    """The method most selfies were scored with; face wins a tie (it is the one with a same-person meaning)."""
    return max(counts, key=lambda method: (counts[method], method == FACE))


def figures_of(scores: Sequence[ScoredSelfie]) -> Figures | None:
    """Count, mean and 10th percentile of the main method's scores, and the misses; None with no scores."""
    if not scores:
        return None
    counts: dict[str, int] = {}
    for item in scores:
        counts[item.method] = counts.get(item.method, 0) + 1
    method = _main_method(counts)
    values = [item.score for item in scores if item.method == method]
    return Figures(
        method=method,
        count=len(values),
        mean=sum(values) / len(values),
        p10=percentile(values, 0.1),
        misses=sum(item.miss for item in scores),
        left_out=len(scores) - len(values),
    )


def summary_figures(rows: Sequence[MethodScores]) -> dict[int, Figures]:
    """Per look version, count and mean of its main method's scores (from `PersonaStore.identity_summary`)."""
    by_version: dict[int, list[MethodScores]] = {}
    for row in rows:
        by_version.setdefault(row.version, []).append(row)
    found = {}
    for version, methods in by_version.items():
        main = _main_method({row.method: row.count for row in methods})
        chosen = next(row for row in methods if row.method == main)
        found[version] = Figures(
            method=main,
            count=chosen.count,
            mean=chosen.mean,
            p10=None,
            misses=sum(row.misses for row in methods),
            left_out=sum(row.count for row in methods) - chosen.count,
        )
    return found


def draw_chart(series: Sequence[tuple[int, Sequence[ScoredSelfie]]], *, threshold: float | None = None) -> bytes:
    """A PNG of the scores over time: `series` is (look version, its scores oldest first), oldest version first;
    the last one is the current version."""
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    left, top, right, bottom = _MARGIN_LEFT, _MARGIN_TOP, width - _MARGIN_RIGHT, height - _MARGIN_BOTTOM
    total = sum(len(scores) for _, scores in series)

    def y_of(score: float) -> float:
        return bottom - max(0.0, min(1.0, score)) * (bottom - top)

    step = (right - left) / max(total, 1)
    start = 0
    for index, (version, scores) in enumerate(series):
        x0, x1 = left + start * step, left + (start + len(scores)) * step
        draw.rectangle((x0, top, x1, bottom), fill=_BANDS[index % 2])
        if scores:
            label = f"v{version} (current)" if index == len(series) - 1 else f"v{version}"
            draw.text((x0 + 3, 4), label, fill=_TEXT, font=font)
        start += len(scores)
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = y_of(tick)
        draw.line((left, y, right, y), fill=_GRID)
        draw.text((4, y - 6), f"{tick:.2f}", fill=_TEXT, font=font)
    if threshold is not None:
        y = y_of(threshold)
        for x in range(left, right, 8):  # dashed
            draw.line((x, y, min(x + 4, right), y), fill=_THRESHOLD, width=1)
    draw.line((left, top, left, bottom), fill=_TEXT)
    draw.line((left, bottom, right, bottom), fill=_TEXT)

    position = 0
    for index, (_, scores) in enumerate(series):
        colour = _CURRENT if index == len(series) - 1 else _EARLIER
        for item in scores:
            x, y = left + (position + 0.5) * step, y_of(item.score)
            fill = _MISS if item.miss else colour
            if item.method == FACE:
                draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=fill)
            else:  # CLIP: another scale, drawn hollow and square
                draw.rectangle((x - 3, y - 3, x + 3, y + 3), outline=fill, width=1)
            position += 1
    if total == 0:
        draw.text((left + 10, (top + bottom) / 2 - 6), "no scored selfies yet", fill=_TEXT, font=font)
    _legend(draw, font, x=left, y=bottom + 9, threshold=threshold)

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _legend(
    draw: ImageDraw.ImageDraw, font: ImageFont.ImageFont, *, x: float, y: float, threshold: float | None
) -> None:
    """The key under the chart, its marks drawn like the points (the default font has no symbol glyphs)."""

    def text(words: str) -> None:
        nonlocal x
        draw.text((x, y - 6), words, fill=_TEXT, font=font)
        x += draw.textlength(words, font=font) + 14

    text("older to newer")
    draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=_CURRENT)
    x += 8
    text("face")
    draw.rectangle((x - 3, y - 3, x + 3, y + 3), outline=_CURRENT)
    x += 8
    text("CLIP")
    draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=_MISS)
    x += 8
    text("missed the minimum")
    if threshold is not None:
        draw.line((x - 4, y, x + 6, y), fill=_THRESHOLD)
        x += 12
        text(f"minimum {threshold:g}")
