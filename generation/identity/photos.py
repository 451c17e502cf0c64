"""Real face photos that ship inside installed packages, and same-person variants of them, for checking the face
scorer offline (tests, benchmarks/identity.py, or a user's own sanity check). Nothing is downloaded or copied.

Packages are located without importing them (an import can be slow or, for insightface without its dependencies,
fail); a photo whose package is missing is simply absent.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageEnhance, ImageOps


@dataclass(frozen=True)
class PackagedPhoto:
    name: str
    package: str
    relative_path: str
    person: str  # who it shows; photos of different people make "different" pairs
    group_index: int | None = None  # for a group photo: which face (left to right) is this person

    def path(self) -> Path | None:
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return None
        path = Path(next(iter(spec.submodule_search_locations))) / self.relative_path
        return path if path.exists() else None


_INSIGHTFACE_GROUP = "data/images/t1.jpg"

PHOTOS = (
    # NASA portrait of astronaut Eileen Collins (public domain), in scikit-image's data.
    PackagedPhoto("astronaut", "skimage", "data/astronaut.png", "Eileen Collins"),
    # US Navy portrait of Grace Hopper (public domain), in matplotlib's sample data.
    PackagedPhoto("grace_hopper", "matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "Grace Hopper"),
    # insightface's sample pictures: a 112 px aligned face and a group photo of six people. Installed for the photos
    # only (`pip install --no-deps insightface`); never imported.
    PackagedPhoto("tom_hanks", "insightface", "data/images/Tom_Hanks_54745.png", "Tom Hanks"),
    *(
        PackagedPhoto(f"group_{index}", "insightface", _INSIGHTFACE_GROUP, f"group person {index}", index)
        for index in range(6)
    ),
)


def open_photo(photo: PackagedPhoto, face_boxes: list[tuple[int, int, int, int]] | None = None) -> Image.Image:
    """The photo as RGB; for a group photo, the crop around its face (`face_boxes`: all faces, any order), with a
    face-sized margin so detection and alignment see the face as in a portrait."""
    path = photo.path()
    if path is None:
        raise FileNotFoundError(f"{photo.package} is not installed, so {photo.name} is not available")
    image = Image.open(path).convert("RGB")
    if photo.group_index is None:
        return image
    if not face_boxes:
        raise ValueError(f"{photo.name} is one face of a group photo: pass the photo's face boxes")
    left, top, right, bottom = sorted(face_boxes)[photo.group_index]
    return crop_around(image, (left, top, right, bottom), margin=1.0)


def available_photos() -> list[PackagedPhoto]:
    return [photo for photo in PHOTOS if photo.path() is not None]


def crop_around(image: Image.Image, box: tuple[int, int, int, int], margin: float) -> Image.Image:
    """A crop around `box` extended by `margin` box-sizes on every side (clipped to the picture)."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top
    return image.crop(
        (
            max(0, round(left - margin * width)),
            max(0, round(top - margin * height)),
            min(image.width, round(right + margin * width)),
            min(image.height, round(bottom + margin * height)),
        )
    )


def same_person_variants(image: Image.Image, face_box: tuple[int, int, int, int]) -> dict[str, Image.Image]:
    """Edits that keep the person: mirror, tight crop, recolour, small rotation, half size, greyscale."""
    red, green, blue = ImageEnhance.Color(image).enhance(0.5).split()
    warm = Image.merge(
        "RGB", (red.point(lambda v: min(255, v * 1.12)), green, blue.point(lambda v: v * 0.8))
    )  # a warm tint on half the saturation
    return {
        "flip": ImageOps.mirror(image),
        "crop": crop_around(image, face_box, margin=0.6),
        "recolour": ImageEnhance.Brightness(warm).enhance(0.85),
        "rotate": image.rotate(12, resample=Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        "half_size": image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS),
        "greyscale": ImageOps.grayscale(image).convert("RGB"),
    }
