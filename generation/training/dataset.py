"""Training pictures for a persona's LoRA: read and checked from a folder (or handed over directly), captioned
DreamBooth-style (a rare trigger word plus the class word), and augmented only in ways that keep the identity: a
mirror flip and a mild square crop, resized to the training resolution.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from generation.training.errors import DataProblem, TrainingDataError, TrainingSettingsError

PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
PICTURE_FORMATS = {"PNG", "JPEG", "MPO", "WEBP"}  # MPO: the JPEG variant many phone cameras write
CAPTION_SUFFIX = ".txt"
MAX_CAPTION_CHARS = 500
_TRIGGER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{1,39}")


@dataclass(frozen=True)
class TrainingLimits:
    """Caps that keep a training set sane. A short side below `min_side_fraction` of the training resolution would
    be upscaled into blur, so such pictures are left out (and counted) rather than trained on."""

    min_images: int = 3
    max_images: int = 100
    max_file_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    min_side_fraction: float = 0.5


@dataclass(frozen=True)
class TrainingExample:
    image: Image.Image  # RGB, upright
    caption: str
    source: str  # file name or a caller's label, for messages


@dataclass(frozen=True)
class TrainingSet:
    examples: tuple[TrainingExample, ...]
    trigger: str
    class_word: str
    left_out: tuple[str, ...] = field(default=())  # sources dropped as too small, for reports

    def __len__(self) -> int:
        return len(self.examples)

    @property
    def trigger_caption(self) -> str:
        return default_caption(self.trigger, self.class_word)

    def fingerprint(self) -> str:
        """A digest of the pictures and captions (not their names): a checkpoint only resumes on the same set."""
        digest = hashlib.sha256()
        for example in self.examples:
            digest.update(f"{example.image.size}|{example.caption}|".encode())
            digest.update(example.image.tobytes())
        return digest.hexdigest()

    def usable_at(self, resolution: int, limits: TrainingLimits = TrainingLimits()) -> TrainingSet:
        """The set without pictures too small for `resolution`; raises when too few remain."""
        smallest = int(resolution * limits.min_side_fraction)
        kept = tuple(e for e in self.examples if min(e.image.size) >= smallest)
        dropped = tuple(e.source for e in self.examples if min(e.image.size) < smallest)
        if len(kept) < limits.min_images:
            raise TrainingDataError(
                f"only {len(kept)} of {len(self.examples)} pictures are at least {smallest} px on their short side "
                f"(half the training resolution {resolution}); training needs {limits.min_images}",
                problem=DataProblem.TOO_FEW,
            )
        return replace(self, examples=kept, left_out=self.left_out + dropped)


@dataclass(frozen=True)
class AugmentedPicture:
    pixels: torch.Tensor  # 3 x resolution x resolution, in [-1, 1]
    original_size: tuple[int, int]  # (height, width) before cropping: SDXL's size conditioning
    crop_top_left: tuple[int, int]  # in training-resolution pixels: SDXL's crop conditioning


def validate_trigger(trigger: str) -> str:
    trigger = (trigger or "").strip()
    if not _TRIGGER.fullmatch(trigger):
        raise TrainingSettingsError(
            f"trigger {trigger!r} must be one word of 2-40 letters, digits, '_' or '-' (a rare token such as 'ohwx')",
            setting="trigger",
        )
    return trigger


def validate_class_word(class_word: str) -> str:
    words = " ".join((class_word or "").split())
    if not words or len(words) > 40 or not all(part.isalpha() for part in words.split()):
        raise TrainingSettingsError(
            f"class word {class_word!r} must be a short plain noun such as 'woman', 'man' or 'person'",
            setting="class_word",
        )
    return words


def default_caption(trigger: str, class_word: str) -> str:
    return f"a photo of {trigger} {class_word}"


def caption_for(text: str | None, trigger: str, class_word: str) -> str:
    """A caption that always names the subject: free text gets the trigger and class word in front unless it
    already carries the trigger."""
    text = " ".join((text or "").split())
    if not text:
        return default_caption(trigger, class_word)
    if re.search(rf"(?<![\w-]){re.escape(trigger)}(?![\w-])", text):
        return text
    return f"{trigger} {class_word}, {text}"


def load_training_folder(
    folder: Path, *, trigger: str, class_word: str = "person", limits: TrainingLimits = TrainingLimits()
) -> TrainingSet:
    """Every picture in `folder` (PNG, JPEG, WebP), captioned from a same-named .txt file when there is one.

    Hidden files and sub-folders are ignored; any other file is an error, so a wrong folder is noticed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainingDataError(
            f"{folder} is not a folder of training pictures", problem=DataProblem.MISSING_FOLDER, path=folder
        )
    pictures, captions = [], {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.is_dir():
            continue
        suffix = path.suffix.lower()
        if suffix == CAPTION_SUFFIX:
            captions[path.stem] = path
        elif suffix in PICTURE_SUFFIXES:
            pictures.append(path)
        else:
            raise TrainingDataError(
                f"{path.name} in {folder} is not a picture (PNG, JPEG or WebP) or a .txt caption",
                problem=DataProblem.NOT_A_PICTURE,
                path=path,
            )
    _check_count(len(pictures), limits, f"in {folder}")
    items = [(path, _read_caption(captions[path.stem]) if path.stem in captions else None) for path in pictures]
    return training_set_from_pictures(items, trigger=trigger, class_word=class_word, limits=limits)


def training_set_from_pictures(
    pictures: Iterable[tuple[Path | Image.Image, str | None]],
    *,
    trigger: str,
    class_word: str = "person",
    limits: TrainingLimits = TrainingLimits(),
) -> TrainingSet:
    """A training set from (file or picture, caption or None) pairs, e.g. references plus accepted selfies."""
    trigger, class_word = validate_trigger(trigger), validate_class_word(class_word)
    examples = []
    for index, (picture, caption) in enumerate(pictures):
        if isinstance(picture, Image.Image):
            image, source = _upright_rgb(picture), f"picture {index + 1}"
            _check_pixels(image.size, limits, source)
        else:
            image, source = _read_picture(Path(picture), limits), Path(picture).name
        examples.append(TrainingExample(image, caption_for(caption, trigger, class_word), source))
    _check_count(len(examples), limits, "")
    return TrainingSet(tuple(examples), trigger, class_word)


def _check_count(count: int, limits: TrainingLimits, where: str) -> None:
    where = f" {where}" if where else ""
    if count < limits.min_images:
        raise TrainingDataError(
            f"{count} training pictures{where}; a LoRA needs at least {limits.min_images}", problem=DataProblem.TOO_FEW
        )
    if count > limits.max_images:
        raise TrainingDataError(
            f"{count} training pictures{where}; at most {limits.max_images} are taken", problem=DataProblem.TOO_MANY
        )


def _read_caption(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TrainingDataError(
            f"caption {path.name} is not readable UTF-8 text ({error})", problem=DataProblem.BAD_CAPTION, path=path
        ) from error
    if len(text) > MAX_CAPTION_CHARS:
        raise TrainingDataError(
            f"caption {path.name} has {len(text)} characters; at most {MAX_CAPTION_CHARS} are taken",
            problem=DataProblem.BAD_CAPTION,
            path=path,
        )
    return text


def _read_picture(path: Path, limits: TrainingLimits) -> Image.Image:
    size = path.stat().st_size
    if size > limits.max_file_bytes:
        raise TrainingDataError(
            f"{path.name} is {size / 2**20:.1f} MiB; training pictures may be at most "
            f"{limits.max_file_bytes / 2**20:.0f} MiB",
            problem=DataProblem.FILE_TOO_LARGE,
            path=path,
        )
    try:
        with Image.open(path) as opened:
            if opened.format not in PICTURE_FORMATS:
                raise TrainingDataError(
                    f"{path.name} is a {opened.format} file, not a PNG, JPEG or WebP picture",
                    problem=DataProblem.NOT_A_PICTURE,
                    path=path,
                )
            _check_pixels(opened.size, limits, path.name)  # before decoding: a small file can hold a huge picture
            opened.load()
            return _upright_rgb(opened)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError) as error:
        raise TrainingDataError(
            f"{path.name} could not be read as a picture ({error})", problem=DataProblem.NOT_A_PICTURE, path=path
        ) from error


def _check_pixels(size: tuple[int, int], limits: TrainingLimits, source: str) -> None:
    if size[0] * size[1] > limits.max_pixels:
        raise TrainingDataError(
            f"{source} is {size[0]}x{size[1]} pixels; training pictures may have at most "
            f"{limits.max_pixels / 1e6:.0f} megapixels",
            problem=DataProblem.TOO_MANY_PIXELS,
        )


def _upright_rgb(image: Image.Image) -> Image.Image:
    """Camera orientation applied, transparency flattened onto white (not the black convert('RGB') gives)."""
    image = ImageOps.exif_transpose(image)
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(flat, rgba).convert("RGB")
    return image.convert("RGB")


def augment(
    image: Image.Image, *, resolution: int, generator: torch.Generator, crop_min: float, flip: bool
) -> AugmentedPicture:
    """A square crop of `crop_min`..1 of the short side at a random place, maybe mirrored, at `resolution`.

    Always draws the same four numbers from `generator`, so the random stream does not depend on the settings."""
    side_u, left_u, top_u, flip_u = torch.rand(4, generator=generator, dtype=torch.float64).tolist()
    width, height = image.size
    side = min(width, height) * (crop_min + (1.0 - crop_min) * side_u)
    left, top = (width - side) * left_u, (height - side) * top_u
    return _view(image, resolution, (left, top, side), mirror=flip and flip_u < 0.5)


def center_view(image: Image.Image, *, resolution: int) -> AugmentedPicture:
    """The largest centred square, unflipped: the fixed view used to measure the denoising loss."""
    width, height = image.size
    side = min(width, height)
    return _view(image, resolution, ((width - side) / 2, (height - side) / 2, side), mirror=False)


def _view(image: Image.Image, resolution: int, box: tuple[float, float, float], *, mirror: bool) -> AugmentedPicture:
    left, top, side = box
    cropped = image.resize((resolution, resolution), Image.Resampling.BICUBIC, box=(left, top, left + side, top + side))
    if mirror:
        cropped = ImageOps.mirror(cropped)
    array = np.asarray(cropped, dtype=np.float32) / 127.5 - 1.0
    pixels = torch.from_numpy(array).permute(2, 0, 1).contiguous()
    scale = resolution / side
    return AugmentedPicture(pixels, (image.height, image.width), (round(top * scale), round(left * scale)))
