"""Best of N for the bot: draw several candidates of a selfie, score them against the persona's references, keep the
most alike, and make the kept picture exactly what its recorded seed draws alone.

The candidates go to the generation service together, so on a GPU they share one batched pipeline call. Scoring
runs on the `IdentityJudge`'s own thread (dlib is not thread-safe, and the ~0.25 s of CPU per picture must not hold
up the generation worker's next batch). Below `IDENTITY_MIN_SCORE` one more round is drawn (never more); if that
still misses, the best of both rounds is posted and the miss recorded for the consistency report.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from generation.identity import IdentityError, IdentityScore, IdentityScorer, candidate_seeds
from generation.identity.candidates import choose_best
from generation.request import GenerationRequest, GenerationResult
from generation.service import GenerationService, ProgressEvent

log = logging.getLogger(__name__)

MAX_ROUNDS = 2  # the first round and at most one more below the minimum score


class IdentityJudge:
    """The bot's one identity scorer, on one dedicated thread. Built lazily on that thread on first use (the face
    model takes a moment to load and many bots never score); unusable (no face model, no CLIP encoder) means every
    call raises `IdentityError` and callers post unscored pictures."""

    def __init__(self, create: Callable[[], IdentityScorer]) -> None:
        self._create = create
        self._scorer: IdentityScorer | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="selfiebot-identity")

    @classmethod
    def for_engine(cls, engine) -> IdentityJudge:
        """Faces when the `identity` extra is installed; CLIP through the engine's own IP-Adapter image encoder."""
        pipe = getattr(engine, "pipe", None)
        return cls(lambda: IdentityScorer.create(pipe=pipe, device=getattr(engine, "device", "cpu")))

    async def score(self, references: Sequence[Path], images: Sequence[Image.Image]) -> list[IdentityScore]:
        """One score per picture against the reference files (read on the scoring thread)."""
        return await self._call(lambda scorer: scorer.score_many(_open_all(references), images))

    async def scene_sameness(self, images: Sequence[Image.Image]) -> float:
        return await self._call(lambda scorer: scorer.scene_sameness(images))

    async def _call(self, work: Callable[[IdentityScorer], Any]) -> Any:
        def on_thread() -> Any:
            if self._scorer is None:
                self._scorer = self._create()
            return work(self._scorer)

        return await asyncio.get_running_loop().run_in_executor(self._executor, on_thread)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _open_all(paths: Sequence[Path]) -> list[Image.Image]:
    images = []
    for path in paths:
        with Image.open(path) as image:
            images.append(image.convert("RGB"))
    return images


def candidate_count(configured: int | None, device_type: str) -> int:
    """IDENTITY_CANDIDATES, or its default: 1 on the CPU (every picture costs seconds), 3 on a GPU."""
    if configured:
        return configured
    return 3 if device_type == "cuda" else 1


@dataclass(frozen=True)
class DrawnCandidate:
    seed: int
    round: int
    score: IdentityScore

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "round": self.round,
            "score": round(self.score.score, 6),
            "method": str(self.score.method),
        }


@dataclass
class Drawn:
    """The picture to post and how it was chosen. `identity` is None when nothing was scored."""

    result: GenerationResult
    identity: IdentityScore | None = None
    candidates: list[DrawnCandidate] = dataclasses.field(default_factory=list)
    rounds: int = 1
    missed: bool = False

    @property
    def seed(self) -> int:
        return self.result.request.seed

    def parameters(self) -> dict[str, Any]:
        """What the selfie record keeps: the consistency report reads identity_score/method/miss; Details show them."""
        if self.identity is None:
            return {}
        return {
            "identity_score": round(self.identity.score, 6),
            "identity_method": str(self.identity.method),
            "identity_same_person": self.identity.same_person,
            "identity_miss": self.missed,
            "identity_rounds": self.rounds,
            "identity_candidates": [candidate.as_dict() for candidate in self.candidates],
        }


async def draw_best(
    *,
    service: GenerationService,
    judge: IdentityJudge | None,
    request: GenerationRequest,
    references: Sequence[Path],
    count: int,
    min_score: float,
    owner: Hashable = None,
    on_progress: Callable[[ProgressEvent], None] | None = None,
) -> Drawn:
    """The best of `count` candidates of `request` (candidate 0 of round 0 is `request` itself).

    Without references or a usable judge this is one ordinary picture. With `count == 1` the picture is scored for
    the record but never redrawn (best of N off). Scores below `min_score` (whatever the method: face scores are
    calibrated to it, CLIP scores held to the same line) cause one more round with new seeds.
    """
    if judge is None or not references:
        return Drawn(await service.generate(request, on_progress=on_progress, owner=owner))
    drawn: list[tuple[DrawnCandidate, GenerationResult]] = []
    for round_number in range(MAX_ROUNDS if count > 1 else 1):
        seeds = candidate_seeds(request.seed, round_number, count)
        results = await _generate_together(
            service, [dataclasses.replace(request, seed=seed) for seed in seeds], owner=owner, on_progress=on_progress
        )
        try:
            scores = await judge.score(references, [result.image for result in results])
        except (IdentityError, OSError) as error:  # no usable method, or a reference file that cannot be read
            log.warning("identity scoring failed for %s (%s); posting unscored", request.identity, error)
            if not drawn:
                return Drawn(await _solo(service, results[0], owner=owner, on_progress=on_progress))
            break  # a later round could not be scored: the best of the rounds that were
        drawn.extend(
            (DrawnCandidate(seed, round_number, score), result)
            for seed, score, result in zip(seeds, scores, results, strict=True)
        )
        best = drawn[choose_best([candidate.score for candidate, _ in drawn])][0]
        if best.score.score >= min_score:
            break
    index = choose_best([candidate.score for candidate, _ in drawn])
    chosen, result = drawn[index]
    return Drawn(
        result=await _solo(service, result, owner=owner, on_progress=on_progress),
        identity=chosen.score,
        candidates=[candidate for candidate, _ in drawn],
        rounds=drawn[-1][0].round + 1,
        missed=chosen.score.score < min_score,
    )


async def _solo(
    service: GenerationService,
    result: GenerationResult,
    *,
    owner: Hashable,
    on_progress: Callable[[ProgressEvent], None] | None,
) -> GenerationResult:
    """`result`, or its request drawn once more alone (`solo`: never batched, even on a busy GPU) when it shared a
    batch: batched pictures may differ from the solo picture by a pixel level, and Details promise the picture its
    seed draws."""
    if result.batch_size <= 1:
        return result
    return await service.generate(result.request, on_progress=on_progress, owner=owner, solo=True)


async def _generate_together(
    service: GenerationService,
    requests: list[GenerationRequest],
    *,
    owner: Hashable,
    on_progress: Callable[[ProgressEvent], None] | None,
) -> list[GenerationResult]:
    """Queue every request at once (so the worker can batch them); if one fails, withdraw the rest."""
    tasks = [
        asyncio.ensure_future(service.generate(r, on_progress=on_progress if i == 0 else None, owner=owner))
        for i, r in enumerate(requests)
    ]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
