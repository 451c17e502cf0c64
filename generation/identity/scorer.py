"""How much a picture looks like a persona's reference pictures: a score in [0, 1] and, where a face allows, a
same-person decision.

The face method (dlib descriptor, see faces.py) applies when a face is found in the picture and in at least one
reference; otherwise the CLIP method (clip.py) scores overall likeness and makes no decision. Reference embeddings are
kept per image content, so scoring a persona's selfies embeds its references once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from generation.identity.clip import ClipSimilarity, similarity_to_score
from generation.identity.errors import IdentityUnavailable
from generation.identity.faces import (
    SAME_PERSON_DISTANCE,
    FaceEmbedder,
    FaceEmbedding,
    distance_to_score,
    face_model_available,
    mean_descriptor,
)


class ScoreMethod(StrEnum):
    FACE = "face"
    CLIP = "clip"


@dataclass(frozen=True)
class IdentityScore:
    """`score`: 0..1, higher = more alike. `same_person`: the face model's decision, None for the CLIP method.
    `distance`: the face descriptor distance behind a face score (None for CLIP)."""

    score: float
    method: ScoreMethod
    same_person: bool | None
    distance: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 6), "method": str(self.method), "same_person": self.same_person}

    @property
    def rank(self) -> tuple[bool, float]:
        """Sort key for choosing among candidates: a picture whose face was found and measured beats one whose face
        was not (a selfie should show the face, and the two methods' scores are not comparable); then the score."""
        return (self.method is ScoreMethod.FACE, self.score)


class IdentityScorer:
    """Scores pictures against references. Not thread-safe: the generation worker (or one CLI process) owns it."""

    def __init__(
        self, *, faces: FaceEmbedder | None = None, clip: ClipSimilarity | None = None, cache_size: int = 64
    ) -> None:
        if faces is None and clip is None:
            raise IdentityUnavailable(
                "no identity method is available: install the `identity` extra for faces or load an IP-Adapter "
                "image encoder for CLIP similarity"
            )
        self._faces = faces
        self._clip = clip
        self._cache: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._cache_size = cache_size

    @classmethod
    def create(
        cls,
        *,
        pipe=None,
        ip_adapter: Path | None = None,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
        use_faces: bool = True,
    ) -> IdentityScorer:
        """A scorer with the face model when it is installed and CLIP from `pipe`'s IP-Adapter image encoder, or
        loaded from `ip_adapter`'s `image_encoder/` when no pipeline is given."""
        faces = FaceEmbedder() if use_faces and face_model_available() else None
        clip = ClipSimilarity.from_pipeline(pipe) if pipe is not None else None
        if clip is None and ip_adapter is not None:
            clip = ClipSimilarity.from_ip_adapter(Path(ip_adapter), device, dtype)
        return cls(faces=faces, clip=clip)

    @property
    def has_faces(self) -> bool:
        return self._faces is not None

    @property
    def has_clip(self) -> bool:
        return self._clip is not None

    def score(self, references: Sequence[Image.Image], image: Image.Image) -> IdentityScore:
        return self.score_many(references, [image])[0]

    def score_many(self, references: Sequence[Image.Image], images: Sequence[Image.Image]) -> list[IdentityScore]:
        """One score per image against the same references (embedded once)."""
        if not references:
            raise ValueError("at least one reference image is needed to score identity")
        scores: list[IdentityScore | None] = [None] * len(images)
        template = self._face_template(references)
        if template is not None:
            for index, image in enumerate(images):
                face = self._faces.embed(image)
                if face is not None:
                    distance = float(np.linalg.norm(face.descriptor - template))
                    scores[index] = IdentityScore(
                        score=distance_to_score(distance),
                        method=ScoreMethod.FACE,
                        same_person=distance < SAME_PERSON_DISTANCE,
                        distance=distance,
                    )
        missing = [index for index, score in enumerate(scores) if score is None]
        if missing:
            for index, similarity in zip(missing, self._clip_similarities(references, images, missing), strict=True):
                scores[index] = IdentityScore(
                    score=similarity_to_score(similarity), method=ScoreMethod.CLIP, same_person=None
                )
        return scores  # type: ignore[return-value]

    def scene_sameness(self, images: Sequence[Image.Image]) -> float:
        """Mean pairwise CLIP similarity of pictures meant to show different scenes (0..1 like `similarity_to_score`).
        High means every scene came out alike: the reference (or LoRA) is over-constraining the picture. For
        calibration, next to the identity scores of the same pictures."""
        if self._clip is None:
            raise IdentityUnavailable("scene variety needs a CLIP image encoder (load an IP-Adapter)")
        if len(images) < 2:
            raise ValueError("scene variety needs at least two pictures")
        embeds = self._clip.embed(images)
        upper = torch.triu(torch.ones(len(images), len(images), dtype=torch.bool), diagonal=1)
        return similarity_to_score(float((embeds @ embeds.T)[upper].mean()))

    def _face_template(self, references: Sequence[Image.Image]) -> np.ndarray | None:
        if self._faces is None:
            return None
        faces = [face for face in map(self._reference_face, references) if face is not None]
        return mean_descriptor([face.descriptor for face in faces]) if faces else None

    def _reference_face(self, image: Image.Image) -> FaceEmbedding | None:
        return self._cached("face", image, lambda: self._faces.embed(image))

    def _clip_similarities(
        self, references: Sequence[Image.Image], images: Sequence[Image.Image], indices: list[int]
    ) -> list[float]:
        if self._clip is None:
            raise IdentityUnavailable(
                "no face was found in the picture or the references, and no CLIP image encoder is loaded to compare "
                "them otherwise (give an IP-Adapter folder)"
            )
        reference_embeds = torch.stack(
            [self._cached("clip", image, lambda image=image: self._clip.embed([image])[0]) for image in references]
        )
        template = torch.nn.functional.normalize(reference_embeds.mean(dim=0), dim=-1)
        picture_embeds = self._clip.embed([images[index] for index in indices])
        return [float(value) for value in picture_embeds @ template]

    def _cached(self, kind: str, image: Image.Image, compute):
        """Reference embeddings by image content (least recently used dropped first); pictures are not kept."""
        key = (kind, _content_digest(image))
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        value = compute()
        self._cache[key] = value
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return value


def _content_digest(image: Image.Image) -> str:
    digest = hashlib.sha256(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()
