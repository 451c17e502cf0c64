"""The identity scorer as the bot and a user see it: real photos of one person score as that person, other people do
not, pictures without a face fall back to CLIP without a decision, and best of N keeps the most alike candidate,
which its seed regenerates exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from generation.identity import (
    IdentityScore,
    IdentityScorer,
    IdentityUnavailable,
    ScoreMethod,
    candidate_seeds,
    render_best_of,
)
from generation.identity.candidates import choose_best
from generation.identity.faces import FaceEmbedder, face_model_available
from generation.identity.photos import PHOTOS, open_photo, same_person_variants
from tests.generation.conftest import max_pixel_difference, tiny_request

ASTRONAUT, GRACE_HOPPER = PHOTOS[0], PHOTOS[1]
needs_faces = pytest.mark.skipif(
    not face_model_available() or ASTRONAUT.path() is None or GRACE_HOPPER.path() is None,
    reason="needs the identity and identity-test extras (scripts/bootstrap.sh installs them)",
)


def selfiebot(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def faces() -> FaceEmbedder:
    return FaceEmbedder()


@pytest.fixture(scope="module")
def face_scorer(faces) -> IdentityScorer:
    return IdentityScorer(faces=faces)


@pytest.fixture(scope="module")
def astronaut(faces):
    image = open_photo(ASTRONAUT)
    return image, faces.embed(image).box


def noise_picture(seed: int, size: int = 64) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8))


@needs_faces
def test_a_photo_is_the_same_person_as_its_edited_copies_and_not_another_person(face_scorer, astronaut):
    image, box = astronaut
    variants = same_person_variants(image, box)
    same = {name: face_scorer.score([image], variant) for name, variant in variants.items()}
    other = face_scorer.score([image], open_photo(GRACE_HOPPER))
    for name in ("flip", "crop", "recolour", "rotate"):
        assert same[name].method is ScoreMethod.FACE, name
        assert same[name].same_person is True and same[name].score > 0.5, (name, same[name])
    assert other.method is ScoreMethod.FACE
    assert other.same_person is False and other.score < 0.5
    assert min(score.score for score in same.values()) > other.score


@needs_faces
def test_several_references_of_one_person_still_recognise_her(face_scorer, astronaut):
    image, box = astronaut
    variants = same_person_variants(image, box)
    references = [variants["recolour"], variants["crop"]]
    assert face_scorer.score(references, variants["flip"]).same_person is True
    assert face_scorer.score(references, open_photo(GRACE_HOPPER)).same_person is False


@needs_faces
def test_score_follows_the_face_distance_with_the_published_threshold_at_one_half(face_scorer, astronaut):
    image, _ = astronaut
    result = face_scorer.score([image], open_photo(GRACE_HOPPER))
    assert result.score == pytest.approx(1 - result.distance / 1.2)
    assert face_scorer.score([image], image).score == pytest.approx(1.0)


def test_a_picture_without_a_face_falls_back_to_clip_without_a_decision(engine):
    scorer = IdentityScorer.create(pipe=engine.pipe)
    pictures = engine.run([engine.prepare(tiny_request(seed=seed)) for seed in (1, 2)])
    itself = scorer.score([pictures[0]], pictures[0])
    other = scorer.score([pictures[0]], pictures[1])
    for result in (itself, other):
        assert result.method is ScoreMethod.CLIP and result.same_person is None
    assert itself.score == pytest.approx(1.0, abs=1e-5)
    assert 0.0 <= other.score < itself.score


def test_scene_sameness_is_one_for_identical_pictures_and_lower_for_varied_ones(engine):
    scorer = IdentityScorer.create(pipe=engine.pipe, use_faces=False)
    identical = engine.run([engine.prepare(tiny_request(seed=5)) for _ in range(3)])
    varied = engine.run([engine.prepare(tiny_request(seed=seed)) for seed in (5, 6, 7)])
    assert scorer.scene_sameness(identical) == pytest.approx(1.0, abs=1e-5)
    assert scorer.scene_sameness(varied) < 0.999


@needs_faces
def test_without_a_clip_encoder_a_faceless_picture_cannot_be_scored(face_scorer, astronaut):
    with pytest.raises(IdentityUnavailable):
        face_scorer.score([astronaut[0]], noise_picture(3))


def test_candidate_seeds_start_with_the_seed_and_never_repeat():
    first = candidate_seeds(1234, take=0, count=4)
    assert first[0] == 1234 and len(set(first)) == 4
    assert candidate_seeds(1234, take=0, count=4) == first
    assert candidate_seeds(1234, take=0, count=2) == first[:2]
    retry = candidate_seeds(1234, take=1, count=4)
    assert not set(retry) & set(first)
    assert all(0 <= seed < 2**32 for seed in first + retry)


def test_a_measured_face_beats_a_clip_only_likeness():
    scores = [
        IdentityScore(0.95, ScoreMethod.CLIP, None),
        IdentityScore(0.40, ScoreMethod.FACE, False, 0.72),
        IdentityScore(0.70, ScoreMethod.FACE, True, 0.36),
    ]
    assert choose_best(scores) == 2
    assert choose_best(scores[:2]) == 1


def test_best_of_n_keeps_the_most_alike_candidate_and_its_seed_regenerates_it(engine, demo_kit):
    request = tiny_request(reference_path=demo_kit.references[0], ip_scale=0.5)
    reference = Image.open(demo_kit.references[0]).convert("RGB")
    scorer = IdentityScorer.create(pipe=engine.pipe, use_faces=False)
    best = render_best_of(engine, request, references=[reference], scorer=scorer, count=3)
    assert [c.seed for c in best.candidates] == candidate_seeds(request.seed, 0, 3)
    scores = [c.score.score for c in best.candidates]
    assert best.chosen_index == int(np.argmax(scores)) and len(set(scores)) == 3
    alone = engine.run([engine.prepare(tiny_request(seed=best.chosen.seed, reference_path=demo_kit.references[0],
                                                     ip_scale=0.5))])[0]  # fmt: skip
    assert max_pixel_difference(best.image, alone) == 0
    assert scorer.score([reference], best.image).score == pytest.approx(max(scores), abs=0.01)


@needs_faces
def test_identity_score_command_prints_one_json_line_per_picture(tmp_path, astronaut, demo_kit):
    image, box = astronaut
    paths = {}
    for name, picture in {"reference": image, "flip": same_person_variants(image, box)["flip"]}.items():
        paths[name] = tmp_path / f"{name}.png"
        picture.save(paths[name])
    noise = tmp_path / "noise.png"
    noise_picture(5).save(noise)
    done = selfiebot(
        "identity", "score", "--reference", str(paths["reference"]), "--ip-adapter", str(demo_kit.ip_adapter),
        str(paths["flip"]), str(ASTRONAUT.path()), str(GRACE_HOPPER.path()), str(noise), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [set(line) for line in lines] == [{"image", "score", "method", "same_person"}] * 4
    assert [line["image"] for line in lines] == [str(paths["flip"]), str(ASTRONAUT.path()),
                                                 str(GRACE_HOPPER.path()), str(noise)]  # fmt: skip
    assert [line["method"] for line in lines] == ["face", "face", "face", "clip"]
    assert [line["same_person"] for line in lines] == [True, True, False, None]
    assert all(0.0 <= line["score"] <= 1.0 for line in lines)


def test_identity_score_without_references_is_a_usage_error(tmp_path):
    done = selfiebot("identity", "score", str(tmp_path / "x.png"))
    assert done.returncode == 2 and "--reference" in done.stderr


def test_render_candidates_writes_the_best_and_its_seed_renders_the_same_picture(demo_kit, tmp_path):
    common = [
        "render", "--model", str(demo_kit.pipeline), "--prompt", "a selfie at the beach", "--steps", "2",
        "--width", "64", "--height", "64", "--reference", str(demo_kit.references[1]),
        "--ip-adapter", str(demo_kit.ip_adapter),
    ]  # fmt: skip
    best = selfiebot(*common, "--seed", "41", "--candidates", "3", "--out", str(tmp_path / "best.png"))
    assert best.returncode == 0, best.stderr
    report = json.loads(best.stdout)
    assert [c["seed"] for c in report["candidates"]] == candidate_seeds(41, 0, 3)
    assert all(set(c) == {"seed", "score", "method"} and c["method"] == "clip" for c in report["candidates"])
    top = max(report["candidates"], key=lambda c: c["score"])
    assert report["chosen_seed"] == top["seed"] == report["seed"] and report["base_seed"] == 41
    again = selfiebot(*common, "--seed", str(report["chosen_seed"]), "--out", str(tmp_path / "again.png"))
    assert again.returncode == 0, again.stderr
    assert "candidates" not in json.loads(again.stdout)
    assert max_pixel_difference(Image.open(tmp_path / "best.png"), Image.open(tmp_path / "again.png")) == 0
