"""Best of N and calibration, end to end through the Discord stand-in.

The demo model draws noise, so no face is found and the CLIP method scores (through the demo IP-Adapter's image
encoder); the face method is checked on real photos that ship inside packages.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bot.best_of import IdentityJudge
from bot.calibration import HEADER, IP_SCALES, LABEL_WIDTH, SCENES, TILE
from generation.identity import IdentityScorer, ScoreMethod, candidate_seeds
from generation.identity.candidates import choose_best
from generation.identity.photos import PHOTOS, open_photo, same_person_variants
from generation.request import GenerationRequest
from tests.bot.conftest import GatedEngine, activate, create_persona, custom_ids, is_picture, png_bytes, selfie_of

REFERENCE = {"reference": ("face.png", png_bytes(96, (200, 120, 90)), "image/png")}


@pytest.fixture(scope="module")
def clip_scorer(demo_engine) -> IdentityScorer:
    """A scorer of its own (the bot's lives on the bot's scoring thread), CLIP only like the bot's on noise."""
    return IdentityScorer.create(pipe=demo_engine.pipe, use_faces=False)


async def _selfie(standin, user):
    w = standin.default
    handle = await standin.invoke_slash(w.guild, w.general, user, "selfie", options={"persona": "Mira"})
    await handle.wait_until(lambda: handle.original is not None and "Sent" in handle.original.content, timeout=60)
    return [m for m in standin.messages if is_picture(m) and not m.deleted][-1]


def _request_from(parameters: dict) -> GenerationRequest:
    """The request Details describe: what anyone would pass to regenerate the picture."""
    fields = {f.name for f in dataclasses.fields(GenerationRequest)}
    values = {key: value for key, value in parameters.items() if key in fields and value is not None}
    for key in ("lora_path", "reference_path"):
        if values.get(key):
            values[key] = Path(values[key])
    return GenerationRequest(**values)


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


async def test_best_of_three_posts_the_arg_max_which_regenerates_alone_bit_for_bit(
    discord_standin, bots, demo_engine, clip_scorer
):
    # max_batch=3: the candidates share one pipeline call even on the CPU, so the winner is drawn again alone.
    engine = GatedEngine(demo_engine)
    running = await bots(engine=engine, identity_candidates=3, identity_min_score=0.0, max_batch=3)
    w = discord_standin.default
    await create_persona(discord_standin, seed=777, attachments=REFERENCE)
    await activate(discord_standin, w.general)
    earlier = len(engine.batches)  # setting the persona up may have drawn a picture of its own
    picture = await _selfie(discord_standin, w.member)
    record = await selfie_of(running.bot, picture)
    p = record.parameters

    candidates = p["identity_candidates"]
    assert [c["seed"] for c in candidates] == candidate_seeds(777, 0, 3)  # candidate 0 is the ordinary picture
    assert {c["method"] for c in candidates} == {"clip"} and p["identity_method"] == "clip"
    best = max(candidates, key=lambda c: c["score"])
    assert record.seed == best["seed"] and p["identity_score"] == best["score"]
    assert p["identity_rounds"] == 1 and p["identity_miss"] is False
    assert len({c["score"] for c in candidates}) == 3  # three different pictures really were scored
    assert [len(batch) for batch in engine.batches[earlier:]] == [3, 1]  # one batched call, then the winner alone
    assert p["batch_size"] == 1  # the posted picture is the solo render of the chosen seed

    # The recorded score is the posted picture's, against the persona's reference.
    persona = await running.bot.services.store.get_persona_by_id(record.guild_id, record.persona_id)
    reference = Image.open(persona.reference_path).convert("RGB")
    posted = Image.open(io.BytesIO(picture.files[0].data)).convert("RGB")
    assert clip_scorer.score([reference], posted).score == pytest.approx(p["identity_score"], abs=1e-3)

    # Details regenerate it: the record's parameters, drawn alone, give the identical picture.
    again = await running.bot.services.service.generate(_request_from(p))
    assert again.batch_size == 1 and again.request.seed == best["seed"]
    assert np.array_equal(np.asarray(again.image.convert("RGB")), _pixels(picture.files[0].data))

    # Members see the score only in Details.
    assert "0." not in picture.content
    details = await discord_standin.click_button(picture, custom_ids(picture)[1], w.member)
    text = (await details.wait_for_response()).data["content"]
    assert f"identity: `{p['identity_score']:.3f}` (clip)" in text and f"best of 3, seed `{record.seed}`" in text


async def test_a_miss_draws_exactly_one_more_round_and_is_recorded(discord_standin, bots):
    running = await bots(identity_candidates=2, identity_min_score=1.0)  # nothing reaches 1.0: always a miss
    w = discord_standin.default
    await create_persona(discord_standin, seed=31, attachments=REFERENCE)
    await activate(discord_standin, w.general)
    picture = await _selfie(discord_standin, w.member)
    record = await selfie_of(running.bot, picture)
    p = record.parameters

    candidates = p["identity_candidates"]
    assert [(c["seed"], c["round"]) for c in candidates] == [
        *((seed, 0) for seed in candidate_seeds(31, 0, 2)),
        *((seed, 1) for seed in candidate_seeds(31, 1, 2)),
    ]  # one more round with new seeds, and no third
    assert p["identity_rounds"] == 2 and p["identity_miss"] is True
    assert record.seed == max(candidates, key=lambda c: c["score"])["seed"]  # the best of both rounds is posted
    assert len([m for m in discord_standin.messages if is_picture(m)]) == 1
    details = await discord_standin.click_button(picture, custom_ids(picture)[1], w.admin)
    assert "below the minimum score" in (await details.wait_for_response()).data["content"]


async def test_one_candidate_is_scored_but_not_redrawn_and_no_reference_means_no_score(discord_standin, bots):
    running = await bots(identity_min_score=1.0)  # CPU default: one candidate
    w = discord_standin.default
    await create_persona(discord_standin, seed=5, attachments=REFERENCE)
    await activate(discord_standin, w.general)
    record = await selfie_of(running.bot, await _selfie(discord_standin, w.member))
    assert record.seed == 5 and len(record.parameters["identity_candidates"]) == 1
    assert record.parameters["identity_miss"] is True and record.parameters["identity_rounds"] == 1

    await create_persona(discord_standin, name="Noor", seed=6)
    await activate(discord_standin, w.general, name="Noor")
    handle = await discord_standin.invoke_slash(w.guild, w.general, w.member, "selfie", options={"persona": "Noor"})
    await handle.wait_until(lambda: handle.original is not None and "Sent" in handle.original.content, timeout=60)
    plain = await selfie_of(running.bot, [m for m in discord_standin.messages if is_picture(m)][-1])
    assert plain.seed == 6 and "identity_score" not in plain.parameters


async def test_the_judge_on_real_photos_prefers_the_same_person(tmp_path):
    judge = IdentityJudge(lambda: IdentityScorer.create())  # faces only: no pipeline, no CLIP
    try:
        astronaut = next(photo for photo in PHOTOS if photo.name == "astronaut")
        if astronaut.path() is None:
            pytest.skip("scikit-image's astronaut photo is not installed")
        photo = open_photo(astronaut)
        reference = tmp_path / "astronaut.png"
        photo.save(reference)
        other = open_photo(next(photo for photo in PHOTOS if photo.name == "grace_hopper"))
        variants = same_person_variants(photo, (150, 60, 270, 200))
        candidates = [other, variants["flip"], variants["recolour"]]
        scores = await judge.score([reference], candidates)
    finally:
        judge.close()
    assert all(score.method is ScoreMethod.FACE for score in scores)
    assert [score.same_person for score in scores] == [False, True, True]
    assert choose_best(scores) in {1, 2} and scores[0].score < 0.5 < min(scores[1].score, scores[2].score)


async def test_calibrate_posts_a_contact_sheet_and_apply_makes_a_new_look_version(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    store = running.bot.services.store
    await create_persona(discord_standin, attachments=REFERENCE)
    before = await store.update_persona(w.guild.id, "Mira", ip_scale=0.45)  # off the grid: any proposal differs

    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="calibrate", options={"name": "Mira"}
    )
    assert (await handle.wait_for_response(timeout=3)).type == 5  # deferred at once
    sheet_message = await handle.wait_for_followup(timeout=90)
    assert "Drawing 9 pictures of **Mira**" in handle.edits[0][1]["content"]  # progress while it renders
    assert "Apply it as a new look version" in sheet_message.content
    sheet = Image.open(io.BytesIO(sheet_message.files[0].data))
    assert sheet.size == (LABEL_WIDTH + len(SCENES) * TILE, HEADER + len(IP_SCALES) * TILE)  # 3 scales x 3 scenes
    labels = {c["label"]: c["custom_id"] for row in sheet_message.components for c in row["components"]}
    apply_label = next(label for label in labels if label.startswith("Apply"))

    pressed = await discord_standin.click_button(sheet_message, labels[apply_label], w.admin)
    answer = await pressed.wait_for_response(timeout=10)
    assert "Applied" in answer.data["content"]
    after = await store.get_persona(w.guild.id, "Mira")
    assert after.version == before.version + 1 and after.ip_scale in IP_SCALES
    assert f"reference {after.ip_scale:g}" == apply_label.removeprefix("Apply ")
    history = await store.look_history(w.guild.id, after.id, limit=1)
    assert history[0].note.startswith("calibrated") and history[0].changed_by == w.admin.id
