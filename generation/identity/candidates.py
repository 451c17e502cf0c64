"""Best of N: draw several candidates of one selfie in one batched call, score each against the references, keep the
most alike, and make sure the kept picture is exactly what its seed draws alone.

Batched pictures may differ from their solo pictures by one pixel level (batch-size-dependent kernels), and a
selfie's Details promise a bit-for-bit regeneration from its seed; so with `exact` (the default) the winner is drawn
once more on its own: N batched + 1 solo picture in all.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from generation.identity.scorer import IdentityScore, IdentityScorer
from generation.request import GenerationRequest

SEED_BITS = 32  # the seed range personas and other SD front-ends use (0 .. 2**32 - 1)


def candidate_seeds(seed: int, take: int, count: int) -> list[int]:
    """The seeds of `count` candidates in round `take` of a selfie drawn with `seed`.

    Candidate 0 of take 0 is `seed` itself, so a single candidate is the ordinary picture and raising the count only
    adds pictures. Every other seed is the first 32 bits of sha256("candidate:{seed}:{take}:{index}"), so each round
    (take 1 for a retry below the minimum score, ...) draws new pictures and the same inputs always give the same
    seeds.
    """
    if count < 1:
        raise ValueError(f"candidate count must be at least 1, not {count}")
    seeds = []
    for index in range(count):
        if take == 0 and index == 0:
            seeds.append(seed)
            continue
        digest = hashlib.sha256(f"candidate:{seed}:{take}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[: SEED_BITS // 8], "big"))
    return seeds


@dataclass(frozen=True)
class Candidate:
    seed: int
    score: IdentityScore

    def as_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "score": round(self.score.score, 6), "method": str(self.score.method)}


@dataclass
class BestOfN:
    """The kept picture, which candidate it is, and every candidate's seed and score (in seed order)."""

    image: Image.Image
    chosen_index: int
    candidates: list[Candidate]
    request: GenerationRequest  # the chosen candidate's request: its seed regenerates `image`

    @property
    def chosen(self) -> Candidate:
        return self.candidates[self.chosen_index]

    def report(self) -> dict[str, Any]:
        return {"candidates": [c.as_dict() for c in self.candidates], "chosen_seed": self.chosen.seed}


def choose_best(scores: Sequence[IdentityScore]) -> int:
    """The index of the best candidate: face-measured before CLIP-only, then the highest score; the first on ties."""
    return max(range(len(scores)), key=lambda index: scores[index].rank)


def render_best_of(
    engine,
    request: GenerationRequest,
    *,
    references: Sequence[Image.Image],
    scorer: IdentityScorer,
    count: int,
    take: int = 0,
    exact: bool = True,
    on_step: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> BestOfN:
    """Draw `count` candidates of `request` (seeds from `candidate_seeds(request.seed, take, count)`) in one
    `engine.run` call and keep the one most like `references`. Runs on the engine's thread (the generation worker).
    """
    seeds = candidate_seeds(request.seed, take, count)
    prepared = engine.prepare(request)  # LoRA and reference resolved once, shared by every candidate
    batch = [dataclasses.replace(prepared, request=dataclasses.replace(request, seed=seed)) for seed in seeds]
    images = engine.run(batch, on_step=on_step, should_stop=should_stop)
    scores = scorer.score_many(references, images)
    best = choose_best(scores)
    image = images[best]
    if exact and count > 1:
        image = engine.run([batch[best]], should_stop=should_stop)[0]
    return BestOfN(
        image=image,
        chosen_index=best,
        candidates=[Candidate(seed, score) for seed, score in zip(seeds, scores, strict=True)],
        request=batch[best].request,
    )
