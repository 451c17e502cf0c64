"""Looks at a finished picture and says whether it shows nudity, before anyone sees it.

Why: the text policy judges words, but a diffusion model can still draw an undressed body from a clothed prompt, and
an IP-Adapter can carry a body from a reference photo. A picture that must stay clothed (an SFW channel, a persona
drawn from a reference photo) is therefore also checked here, on its pixels.

The detector is NudeNet 3.4.2 (`pip install 'selfiebot[nudity]'`): a YOLOv8n body-part detector whose ONNX weights
(`nudenet/320n.onnx`, 12 MB) ship inside the wheel, run by onnxruntime on the CPU. Nothing is ever downloaded. Its
licence is AGPL-3.0 (the wheel carries that text although its metadata says MIT), so it is an optional extra; without
it `check` raises `DetectorUnavailable` and the caller decides (the text policy stays complete without it).

A picture is "nude" when the detector finds any of `EXPOSED_LABELS` with a score at or above the threshold
(`DEFAULT_THRESHOLD`, 0.4). Bellies, armpits, feet and a man's chest are not counted: swimwear selfies stay allowed.
Checks are synchronous (about 30-70 ms on a 2-core CPU); call them from a worker thread or through `check_async`.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from generation.errors import GenerationError

log = logging.getLogger(__name__)

DETECTOR_PACKAGE = "nudenet"
INSTALL_HINT = "pip install 'selfiebot[nudity]'"

# NudeNet's classes that mean "this part is uncovered and must not be in a clothed picture".
EXPOSED_LABELS: frozenset[str] = frozenset(
    {
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)

# A judgement, not a calibration (no nude pictures may be used here). It leans low: a withheld picture costs one
# redraw, a posted one cannot be taken back.
# NudeNet drops boxes under 0.25 itself, so thresholds below that behave like 0.25.
DEFAULT_THRESHOLD = 0.4


class DetectorProblem(StrEnum):
    NOT_INSTALLED = "not_installed"
    LOAD_FAILED = "load_failed"


class DetectorUnavailable(GenerationError):
    """The nudity detector cannot run here (`problem`): not installed, or its model would not load."""

    def __init__(self, message: str, *, problem: DetectorProblem) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True)
class Detection:
    """One box the detector found: a NudeNet class name, its confidence, and (x, y, width, height) in pixels."""

    label: str
    score: float
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class NudityVerdict:
    """What the check found in one picture.

    `nude`: an exposed label reached the threshold. `score`: the highest exposed-label score found (0.0 if none),
    also when it stayed below the threshold. `labels`: the exposed labels that reached it, highest first.
    `detections`: every box, covered parts and faces included (for logs; a face shows the model saw a person).
    """

    nude: bool
    score: float
    labels: tuple[str, ...]
    detections: tuple[Detection, ...]
    threshold: float


def available() -> bool:
    """Whether the optional detector package can be imported here (does not load its model)."""
    try:
        importlib.import_module(DETECTOR_PACKAGE)
    except ImportError:
        return False
    return True


def verdict_from_detections(
    detections: Iterable[Detection], *, threshold: float = DEFAULT_THRESHOLD, exposed: frozenset[str] = EXPOSED_LABELS
) -> NudityVerdict:
    """The decision rule on its own: nude when any exposed label scores at or above `threshold`."""
    found = tuple(sorted(detections, key=lambda detection: detection.score, reverse=True))
    exposed_found = [detection for detection in found if detection.label in exposed]
    reached = [detection for detection in exposed_found if detection.score >= threshold]
    labels = tuple(dict.fromkeys(detection.label for detection in reached))
    return NudityVerdict(
        nude=bool(reached),
        score=max((detection.score for detection in exposed_found), default=0.0),
        labels=labels,
        detections=found,
        threshold=threshold,
    )


class NudityDetector:
    """NudeNet behind a lock: the model loads on first use (or `load()`), checks may then run from any thread.

    onnxruntime's `InferenceSession.run` is safe to call concurrently, so only loading is serialised.
    """

    def __init__(
        self,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        exposed_labels: frozenset[str] = EXPOSED_LABELS,
        model_path: Path | None = None,
    ) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"nudity threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.exposed_labels = frozenset(exposed_labels)
        self.model_path = model_path  # None: the 320n model inside the nudenet wheel
        self._detector: Any = None
        self._load_lock = threading.Lock()

    @staticmethod
    def available() -> bool:
        return available()

    @property
    def loaded(self) -> bool:
        return self._detector is not None

    def load(self) -> None:
        """Load the model now (start-up warm-up); raises DetectorUnavailable. Safe to call repeatedly."""
        self._loaded_detector()

    def check(self, image: Image.Image) -> NudityVerdict:
        """Judge one picture. Blocks for tens of milliseconds: keep it off the event loop."""
        detections = self._loaded_detector().detect(_model_input(image))
        return self._verdict(detections)

    def check_many(self, images: Sequence[Image.Image]) -> list[NudityVerdict]:
        """Judge several pictures (e.g. a selfie's candidates) in batched model calls; one verdict each, in order."""
        if not images:
            return []
        batches = self._loaded_detector().detect_batch([_model_input(image) for image in images])
        return [self._verdict(detections) for detections in batches]

    async def check_async(self, image: Image.Image) -> NudityVerdict:
        """`check` in a worker thread, for callers on an event loop."""
        return await asyncio.to_thread(self.check, image)

    def _verdict(self, raw: list[dict]) -> NudityVerdict:
        detections = [
            Detection(label=item["class"], score=float(item["score"]), box=tuple(int(v) for v in item["box"]))
            for item in raw
        ]
        return verdict_from_detections(detections, threshold=self.threshold, exposed=self.exposed_labels)

    def _loaded_detector(self):
        if self._detector is not None:
            return self._detector
        with self._load_lock:
            if self._detector is None:
                self._detector = self._build()
        return self._detector

    def _build(self):
        try:
            nudenet = importlib.import_module(DETECTOR_PACKAGE)
        except ImportError as error:
            raise DetectorUnavailable(
                f"nudity check needs the optional package {DETECTOR_PACKAGE!r} ({INSTALL_HINT}): {error}",
                problem=DetectorProblem.NOT_INSTALLED,
            ) from error
        started = time.perf_counter()
        try:
            detector = nudenet.NudeDetector(model_path=str(self.model_path) if self.model_path else None)
            _use_one_thread(detector)
        except Exception as error:  # onnxruntime raises its own types for missing or damaged files
            where = self.model_path or f"the {DETECTOR_PACKAGE} package"
            raise DetectorUnavailable(
                f"nudity detector model from {where} did not load: {error}", problem=DetectorProblem.LOAD_FAILED
            ) from error
        log.info("nudity detector loaded in %.2f s (threshold %.2f)", time.perf_counter() - started, self.threshold)
        return detector


def _use_one_thread(detector) -> None:
    """Rebuild the detector's ONNX session on one thread. Its default pool takes every core and spin-waits, which
    next to torch's own threads in the same process slowed a 30 ms check to seconds on a 2-core machine."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    path = detector.onnx_session._model_path  # the file NudeNet chose (its bundled model unless one was given)
    detector.onnx_session = onnxruntime.InferenceSession(path, sess_options=options, providers=["CPUExecutionProvider"])


def _model_input(image: Image.Image) -> np.ndarray:
    """An RGB uint8 array laid out so that the model sees RGB, as it was trained.

    NudeNet's preprocessing (ported from its browser demo, where pixels arrive as RGBA) swaps red and blue twice on
    a 3-channel array (`cvtColor(RGBA2BGR)`, then `blobFromImage(swapRB=True)`), so an RGB array reaches the model as
    RGB. (Its `detect(path)` reads BGR with OpenCV and therefore feeds the model BGR.)
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"nudity check takes a PIL image, got {type(image).__name__}")
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
