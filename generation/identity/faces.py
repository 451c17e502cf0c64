"""Face recognition with dlib: find the face, align it on five landmarks, embed it as dlib's 128-d ResNet descriptor.

The models ship inside PyPI packages (the `identity` extra: `dlib-bin` and `face-recognition-models`), so nothing is
downloaded at run time. dlib's descriptor was trained so that two photos of one person lie closer than 0.6 (Euclidean);
that published threshold is the same-person decision here. Only the 5-point landmark model is used: the 68-point one in
the same package was trained on data that excludes commercial use.

An instance is not thread-safe; the generation worker owns one.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np
from PIL import Image

SAME_PERSON_DISTANCE = 0.6  # dlib's published threshold for dlib_face_recognition_resnet_model_v1
DESCRIPTOR_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"
CNN_DETECTOR_MODEL = "mmod_human_face_detector.dat"

# dlib's HOG detector finds faces from about 80 px (40 px with one upsampling); a selfie is usually far larger than
# that, so small pictures are enlarged and large ones reduced to a working size that keeps detection fast.
_MIN_WORKING_SIDE = 400
_MAX_WORKING_SIDE = 800
_CHIP_SIZE = 150  # the aligned crop size dlib's descriptor was trained on
_CHIP_PADDING = 0.25
_CNN_MIN_CONFIDENCE = 0.5  # the CNN detector's score; it reports faint noise blobs below this


class Detector(StrEnum):
    HOG = "hog"
    CNN = "cnn"


@dataclass(frozen=True)
class FaceEmbedding:
    """One face: its descriptor, where it was (pixels of the original picture) and which detector found it."""

    descriptor: np.ndarray  # shape (128,), float64
    box: tuple[int, int, int, int]  # left, top, right, bottom
    detector: Detector


def face_models_dir() -> Path | None:
    """The folder of model files from the `face-recognition-models` package, or None when it is not installed.

    Found without importing the package: its `__init__` needs `pkg_resources`, which current setuptools removed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if (folder / DESCRIPTOR_MODEL).exists() else None


def face_model_available() -> bool:
    return importlib.util.find_spec("dlib") is not None and face_models_dir() is not None


def distance_to_score(distance: float) -> float:
    """Map a descriptor distance to [0, 1]: 1 at distance 0, 0.5 at the same-person threshold, 0 from twice it on.

    Linear, so equal steps in distance are equal steps in score, and `score > 0.5` is exactly dlib's decision.
    """
    return float(min(1.0, max(0.0, 1.0 - distance / (2 * SAME_PERSON_DISTANCE))))


class FaceEmbedder:
    """dlib's HOG face detector, 5-point alignment and ResNet descriptor.

    `use_cnn_detector` adds dlib's CNN face detector as a second try when the HOG detector finds nothing: it also
    finds turned faces, but costs about a second per picture on a CPU (dlib's wheels have no CUDA), so it is off
    unless asked for (the benchmark reports both).
    """

    def __init__(self, models_dir: Path | None = None, *, use_cnn_detector: bool = False) -> None:
        import dlib  # the `identity` extra; callers check face_model_available() first

        folder = Path(models_dir) if models_dir else face_models_dir()
        if folder is None:
            raise FileNotFoundError("the face-recognition-models package is not installed (pip install '.[identity]')")
        self._dlib = dlib
        self._hog = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(str(folder / LANDMARK_MODEL))
        self._descriptor = dlib.face_recognition_model_v1(str(folder / DESCRIPTOR_MODEL))
        cnn_file = folder / CNN_DETECTOR_MODEL
        self._cnn = dlib.cnn_face_detection_model_v1(str(cnn_file)) if use_cnn_detector and cnn_file.exists() else None

    def embed(self, image: Image.Image) -> FaceEmbedding | None:
        """The largest face in `image`, or None when no face is found."""
        working, scale = _working_copy(image)
        pixels = np.asarray(working)
        found = self._detect(pixels)
        if found is None:
            return None
        rectangle, detector = found
        shape = self._landmarks(pixels, rectangle)
        chip = self._dlib.get_face_chip(pixels, shape, size=_CHIP_SIZE, padding=_CHIP_PADDING)
        descriptor = np.asarray(self._descriptor.compute_face_descriptor(chip), dtype=np.float64)
        box = tuple(
            round(v / scale) for v in (rectangle.left(), rectangle.top(), rectangle.right(), rectangle.bottom())
        )
        return FaceEmbedding(descriptor=descriptor, box=box, detector=detector)

    def _detect(self, pixels: np.ndarray):
        # The most prominent face (area x detector confidence): the selfie's subject is the large, clear face, and a
        # faint false detection of about the same size (the astronaut photo's badge) loses.
        for upsample in (0, 1):  # upsampling finds faces half the size, at four times the cost: only when needed
            rectangles, scores, _ = self._hog.run(pixels, upsample, 0.0)
            if len(rectangles):
                break
        if len(rectangles):
            best = max(range(len(rectangles)), key=lambda i: rectangles[i].area() * max(scores[i], 1e-6))
            return rectangles[best], Detector.HOG
        if self._cnn is None:
            return None
        # The CNN detector also finds turned and partly hidden faces, at about ten times the HOG detector's cost.
        detections = [d for d in self._cnn(pixels, 0) if d.confidence >= _CNN_MIN_CONFIDENCE]
        if not detections:
            return None
        best = max(detections, key=lambda d: d.rect.area() * d.confidence)
        return best.rect, Detector.CNN


def _working_copy(image: Image.Image) -> tuple[Image.Image, float]:
    """An RGB copy whose longer side lies in the detector's comfortable range, and the scale applied."""
    rgb = image.convert("RGB")
    longer = max(rgb.size)
    scale = 1.0
    if longer < _MIN_WORKING_SIDE:
        scale = _MIN_WORKING_SIDE / longer
    elif longer > _MAX_WORKING_SIDE:
        scale = _MAX_WORKING_SIDE / longer
    if scale != 1.0:
        size = (max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale)))
        rgb = rgb.resize(size, Image.Resampling.BICUBIC)
    return rgb, scale


def mean_descriptor(descriptors: Sequence[np.ndarray]) -> np.ndarray:
    """Several reference faces as one template: the mean of their descriptors, which evens out each photo's own pose
    and light."""
    return np.mean(np.stack(descriptors), axis=0)
