"""The nudity check on real pictures: clothed people and demo-model noise pass; the withhold path is reachable.

No explicit material is in the repository or downloaded. The pictures are scikit-image's bundled photos (an astronaut
and a cameraman, both clothed; a cat; a cup of coffee) and its colour wheel, which NudeNet misreads as exposed
buttocks. That false positive is what shows, with the real model, that a detection becomes a withheld picture; it
says nothing about how well real nudity is caught (see docs/security.md, "Image check").
"""

from __future__ import annotations

import importlib.metadata
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image
from skimage import data as skimage_data

from generation.nudity import (
    DEFAULT_THRESHOLD,
    Detection,
    DetectorProblem,
    DetectorUnavailable,
    NudityDetector,
    available,
    verdict_from_detections,
)
from tests.generation.conftest import tiny_request


def picture(name: str) -> Image.Image:
    return Image.fromarray(getattr(skimage_data, name)())


@pytest.fixture(scope="module")
def detector() -> NudityDetector:
    loaded = NudityDetector()
    loaded.load()
    return loaded


def labels_seen(verdict) -> set[str]:
    return {detection.label for detection in verdict.detections}


def test_clothed_astronaut_passes_and_the_model_sees_her(detector):
    verdict = detector.check(picture("astronaut"))
    assert not verdict.nude
    assert verdict.labels == ()
    assert verdict.score < DEFAULT_THRESHOLD
    assert "FACE_FEMALE" in labels_seen(verdict)  # the model did look at a person, not at nothing


def test_grayscale_cameraman_passes_and_the_model_sees_him(detector):
    cameraman = picture("camera")
    assert cameraman.mode == "L"
    verdict = detector.check(cameraman)
    assert not verdict.nude
    assert "FACE_MALE" in labels_seen(verdict)


def test_clothed_person_at_demo_size_and_with_alpha_passes(detector):
    small = picture("astronaut").resize((64, 64))
    with_alpha = picture("astronaut").convert("RGBA")
    for image in (small, with_alpha):
        assert not detector.check(image).nude


def test_demo_model_pictures_pass(detector, engine):
    pictures = engine.run([engine.prepare(tiny_request(seed=seed)) for seed in range(4)])
    verdicts = detector.check_many(pictures)
    assert [verdict.nude for verdict in verdicts] == [False] * 4


def test_a_detection_of_an_exposed_part_withholds_the_picture(detector):
    # NudeNet's known false positive on a smooth colour gradient: real model output on a non-explicit picture.
    verdict = detector.check(picture("colorwheel"))
    assert verdict.nude
    assert verdict.labels == ("BUTTOCKS_EXPOSED",)
    assert verdict.score >= DEFAULT_THRESHOLD


def test_threshold_decides_between_posting_and_withholding(detector):
    coffee = picture("coffee")
    default = detector.check(coffee)
    assert not default.nude
    assert 0.25 <= default.score < DEFAULT_THRESHOLD  # a weak exposed-label box, reported but below the line
    stricter = NudityDetector(threshold=0.25)
    assert stricter.check(coffee).nude
    assert not stricter.check(picture("astronaut")).nude


def test_checking_candidates_together_gives_each_its_own_verdict(detector):
    pictures = [picture("astronaut"), picture("colorwheel"), picture("chelsea"), picture("astronaut").resize((64, 64))]
    together = detector.check_many(pictures)
    alone = [detector.check(image) for image in pictures]
    assert [verdict.nude for verdict in together] == [False, True, False, False]
    assert [verdict.labels for verdict in together] == [verdict.labels for verdict in alone]
    assert [verdict.score for verdict in together] == pytest.approx([verdict.score for verdict in alone], abs=1e-4)
    assert detector.check_many([]) == []


async def test_check_async_gives_the_same_verdict(detector):
    assert (await detector.check_async(picture("colorwheel"))).nude
    assert not (await detector.check_async(picture("astronaut"))).nude


def test_first_checks_from_several_threads_share_one_model():
    fresh = NudityDetector()
    images = [picture("astronaut"), picture("colorwheel")] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        verdicts = list(pool.map(fresh.check, images))
    assert [verdict.nude for verdict in verdicts] == [False, True] * 3


def test_model_ships_in_the_wheel_and_loads_without_network(monkeypatch):
    shipped = [path for path in importlib.metadata.files("nudenet") if path.name.endswith(".onnx")]
    assert shipped and shipped[0].locate().stat().st_size > 1_000_000

    def no_network(*args, **kwargs):
        raise AssertionError("the nudity detector tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    offline = NudityDetector()
    offline.load()
    assert offline.check(picture("colorwheel")).nude


def test_missing_package_is_a_clear_unavailable_state(monkeypatch):
    monkeypatch.setitem(sys.modules, "nudenet", None)  # what Python does for a package that is not installed
    assert not available()
    assert not NudityDetector.available()
    missing = NudityDetector()
    with pytest.raises(DetectorUnavailable) as raised:
        missing.check(picture("astronaut"))
    assert raised.value.problem is DetectorProblem.NOT_INSTALLED
    assert "selfiebot[nudity]" in str(raised.value)
    assert not missing.loaded


def test_damaged_model_file_is_unavailable_not_a_crash(tmp_path):
    damaged = tmp_path / "320n.onnx"
    damaged.write_bytes(b"not an onnx model")
    with pytest.raises(DetectorUnavailable) as raised:
        NudityDetector(model_path=damaged).check(picture("astronaut"))
    assert raised.value.problem is DetectorProblem.LOAD_FAILED
    assert str(damaged) in str(raised.value)


def test_decision_rule_counts_only_exposed_parts():
    def box(label: str, score: float) -> Detection:
        return Detection(label=label, score=score, box=(0, 0, 10, 10))

    covered = [box("FEMALE_BREAST_COVERED", 0.99), box("BELLY_EXPOSED", 0.95), box("MALE_BREAST_EXPOSED", 0.9)]
    assert not verdict_from_detections(covered).nude
    assert verdict_from_detections(covered).score == 0.0

    at_line = verdict_from_detections([box("FEMALE_BREAST_EXPOSED", DEFAULT_THRESHOLD)])
    assert at_line.nude and at_line.labels == ("FEMALE_BREAST_EXPOSED",)
    below = verdict_from_detections([box("FEMALE_BREAST_EXPOSED", DEFAULT_THRESHOLD - 0.01)])
    assert not below.nude and below.score == pytest.approx(DEFAULT_THRESHOLD - 0.01)

    several = verdict_from_detections(
        [box("BUTTOCKS_EXPOSED", 0.5), box("MALE_GENITALIA_EXPOSED", 0.8), box("BUTTOCKS_EXPOSED", 0.6)]
    )
    assert several.labels == ("MALE_GENITALIA_EXPOSED", "BUTTOCKS_EXPOSED")
    assert several.score == 0.8


def test_threshold_outside_zero_to_one_is_refused():
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            NudityDetector(threshold=bad)
