"""Reference images for IP-Adapter: encoded once per image content, cached in memory and on disk."""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from PIL import Image, UnidentifiedImageError

from generation.assets import ContentHashes
from generation.errors import AssetProblem, InvalidAssetError

log = logging.getLogger(__name__)


class ReferenceEmbeddings:
    """A persona's image embeddings for the loaded IP-Adapter: conditional and unconditional, batch of one."""

    def __init__(self, positive: torch.Tensor, negative: torch.Tensor) -> None:
        self.positive = positive
        self.negative = negative


class ReferenceCache:
    """Image embeddings keyed by (encoder identity, image content hash); memory first, then disk, then encode.

    `encoder_key` must change whenever the image encoder or IP-Adapter does, or stale embeddings would be used.
    """

    def __init__(
        self,
        pipe,
        disk_dir: Path | None,
        encoder_key: str,
        wants_hidden_states: bool,
        hashes: ContentHashes | None = None,
    ) -> None:
        self._pipe = pipe
        self._wants_hidden_states = wants_hidden_states  # IP-Adapter Plus projects hidden states, not embeddings
        self._dir = Path(disk_dir) / encoder_key if disk_dir else None
        self._memory: dict[str, ReferenceEmbeddings] = {}
        self._hashes = hashes or ContentHashes()
        self.encodes = 0
        self.memory_hits = 0
        self.disk_hits = 0

    def get(self, path: Path) -> tuple[ReferenceEmbeddings, str]:
        digest = self._hashes.of(path)
        cached = self._memory.get(digest)
        if cached is not None:
            self.memory_hits += 1
            return cached, digest
        embeddings = self._read_disk(digest)
        if embeddings is None:
            embeddings = self._encode(path)
            self._write_disk(digest, embeddings)
        self._memory[digest] = embeddings
        return embeddings, digest

    def _encode(self, path: Path) -> ReferenceEmbeddings:
        image = open_reference_image(path)
        pipe = self._pipe
        with torch.no_grad():
            positive, negative = pipe.encode_image(image, pipe._execution_device, 1, self._wants_hidden_states)
        self.encodes += 1
        return ReferenceEmbeddings(positive, negative)

    def _disk_path(self, digest: str) -> Path | None:
        return self._dir / f"{digest}.safetensors" if self._dir else None

    def _read_disk(self, digest: str) -> ReferenceEmbeddings | None:
        path = self._disk_path(digest)
        if path is None or not path.exists():
            return None
        from safetensors.torch import load_file

        try:
            tensors = load_file(str(path))
        except Exception:  # a torn write from a crash: encode again
            log.warning("ignoring unreadable cached embeddings %s", path)
            return None
        self.disk_hits += 1
        device, dtype = self._pipe._execution_device, self._pipe.unet.dtype
        return ReferenceEmbeddings(
            tensors["positive"].to(device=device, dtype=dtype), tensors["negative"].to(device=device, dtype=dtype)
        )

    def _write_disk(self, digest: str, embeddings: ReferenceEmbeddings) -> None:
        path = self._disk_path(digest)
        if path is None:
            return
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(".tmp")
        tensors = {
            "positive": embeddings.positive.cpu().contiguous(),
            "negative": embeddings.negative.cpu().contiguous(),
        }
        save_file(tensors, str(staging))
        staging.replace(path)


def open_reference_image(path: Path) -> Image.Image:
    """The reference as an RGB image, or InvalidAssetError (UNREADABLE_IMAGE)."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise InvalidAssetError(
            f"reference image {path.name} could not be read ({type(error).__name__})",
            asset="reference",
            problem=AssetProblem.UNREADABLE_IMAGE,
        ) from error
