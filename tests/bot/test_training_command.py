"""`/persona train` end to end on the demo model: progress, contact sheet, Apply, Cancel, selfies first, bad input."""

from __future__ import annotations

import hashlib
from pathlib import Path

from bot.training_store import TrainingState
from tests.bot.conftest import activate, create_persona, custom_ids, eventually, is_picture, png_bytes, selfie_of


class RecordingEngine:
    """The real engine; the worker thread writes every picture call and every training step to `events`."""

    def __init__(self, engine) -> None:
        self._engine = engine
        self.events: list[str] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def run(self, batch, **kwargs):
        self.events.extend("picture" for _ in batch)
        return self._engine.run(batch, **kwargs)

    def switch_ip_adapter_off(self) -> None:  # the training run calls this first in every step
        self.events.append("step")
        self._engine.switch_ip_adapter_off()


def pictures(count: int) -> dict:
    colours = [(200, 120, 90), (90, 140, 200), (120, 200, 90), (220, 210, 80)]
    return {f"image{i + 1}": (f"p{i}.png", png_bytes(96, colours[i]), "image/png") for i in range(count)}


async def train(standin, options: dict, attachments: dict | None = None):
    w = standin.default
    handle = await standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="train", options=options, attachments=attachments
    )
    return handle, await handle.wait_for_followup(timeout=20)


def progress_message(standin):
    return next(m for m in standin.messages if m.source == "channel" and "Training **Mira**" in m.content)


async def selfie(standin, user) -> None:
    w = standin.default
    handle = await standin.invoke_slash(w.guild, w.general, user, "selfie", options={"persona": "Mira"})
    await handle.wait_until(lambda: handle.original is not None and "Sent" in handle.original.content, timeout=30)


async def test_training_shows_progress_posts_a_contact_sheet_and_apply_gives_the_persona_its_lora(
    discord_standin, bots
):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin, attachments={"reference": ("face.png", png_bytes(), "image/png")})
    await activate(discord_standin, w.general)
    store = running.bot.services.store
    before = await store.get_persona(w.guild.id, "Mira")

    _, answer = await train(discord_standin, {"name": "Mira", "steps": 6}, pictures(2))
    assert answer.content.startswith("Training **Mira**") and answer.payload.get("flags", 0) & 64

    sheet = await discord_standin.wait_for_message(lambda m: m.files and "before (top)" in m.content, timeout=90)
    assert f"<@{w.admin.id}>" in sheet.content and sheet.files[0].filename == "training.png"
    ids = custom_ids(sheet)
    assert ids[0].startswith("training:apply:") and ids[1:] == [ids[0].replace("apply", "discard")]
    progress = progress_message(discord_standin)
    shown = [body.get("content", "") for _, body in progress.edits]
    assert any("step" in text and "loss" in text and "left" in text for text in shown), shown
    assert "done" in progress.content and not progress.components  # Cancel is gone once it is over

    # A member cannot apply it; the admin can.
    apply_id = custom_ids(sheet)[0]
    refused = await discord_standin.click_button(sheet, apply_id, w.member)
    assert "Manage Server" in (await refused.wait_for_response()).data["content"]
    assert (await store.get_persona(w.guild.id, "Mira")).lora_path is None
    pressed = await discord_standin.click_button(sheet, apply_id, w.admin)
    applied = await pressed.wait_for_followup(timeout=20)
    assert applied.content.startswith("Applied") and applied.payload.get("flags", 0) & 64

    after = await store.get_persona(w.guild.id, "Mira")
    lora = Path(after.lora_path)
    assert lora.is_file() and lora.parent == running.bot.services.settings.loras_dir
    assert hashlib.sha256(lora.read_bytes()).hexdigest() == after.lora_hash
    assert after.version == before.version + 1 and after.lora_trigger == "ohwx"
    record = await running.bot.services.training.records.get(int(apply_id.split(":")[2]))
    assert record.state is TrainingState.APPLIED and not Path(record.folder).exists()
    assert not sheet.components  # Apply / Discard are gone once one was pressed

    await selfie(discord_standin, w.member)
    picture = [m for m in discord_standin.messages if is_picture(m) and not m.deleted][-1]
    record = await selfie_of(running.bot, picture)
    assert record.parameters["lora_sha256"] == after.lora_hash and "ohwx" in record.prompt


async def test_a_selfie_during_training_goes_first_and_cancel_stops_the_training(discord_standin, bots, demo_engine):
    engine = RecordingEngine(demo_engine)
    running = await bots(engine=engine)
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await train(discord_standin, {"name": "Mira", "steps": 400}, pictures(3))
    await eventually(lambda: engine.events.count("step") >= 3, timeout=60)

    engine.events.append("asked")
    await selfie(discord_standin, w.member)
    asked = engine.events.index("asked")
    served = engine.events.index("picture", asked)
    assert engine.events[asked:served].count("step") <= 1, engine.events  # at most the step under way
    await eventually(lambda: engine.events[served:].count("step") >= 2, timeout=30)  # and training went on

    progress = progress_message(discord_standin)
    (cancel_id,) = custom_ids(progress)
    assert cancel_id.startswith("training:cancel:")
    refused = await discord_standin.click_button(progress, cancel_id, w.member)
    assert "Manage Server" in (await refused.wait_for_response()).data["content"]
    pressed = await discord_standin.click_button(progress, cancel_id, w.admin)
    assert "Cancelling" in (await pressed.wait_for_response(timeout=10)).data["content"]
    await eventually(lambda: "cancelled" in progress.content, timeout=30)
    steps_when_cancelled = engine.events.count("step")
    assert steps_when_cancelled < 400 and not progress.components
    record = await running.bot.services.training.records.get(int(cancel_id.split(":")[2]))
    assert record.state is TrainingState.CANCELLED and not Path(record.folder).exists()
    assert not running.bot.services.service.training_busy
    assert not any(m.files and "before (top)" in m.content for m in discord_standin.messages)
    assert (await running.bot.services.store.get_persona(w.guild.id, "Mira")).lora_path is None


async def test_bad_input_gets_one_sentence_and_queues_nothing(discord_standin, bots):
    running = await bots()
    await create_persona(discord_standin)  # no reference: it cannot draw its own pictures
    cases = [
        (pictures(1), "at least 3"),
        (pictures(2) | {"image3": ("notes.png", b"not an image", "image/png")}, "not an image"),
        (pictures(2) | {"image3": ("tiny.png", png_bytes(16), "image/png")}, "too small"),
    ]
    for attachments, expected in cases:
        _, answer = await train(discord_standin, {"name": "Mira", "steps": 6}, attachments)
        assert expected in answer.content and answer.payload.get("flags", 0) & 64, answer.content
        assert "\n" not in answer.content and answer.content.count(". ") == 0  # one sentence
    training = running.bot.services.training
    assert await training.records.running() == [] and not running.bot.services.service.training_busy
    assert not [m for m in discord_standin.messages if m.source == "channel" and "Training **Mira**" in m.content]
    assert not list((running.bot.services.settings.data_dir / "training").glob("*/pictures/*"))


async def test_one_reference_bootstraps_its_own_pictures_and_discard_leaves_the_persona_as_it_was(
    discord_standin, bots
):
    running = await bots(identity_min_score=0.0)  # the demo model's pictures are noise: keep every drawn one
    w = discord_standin.default
    await create_persona(discord_standin, attachments={"reference": ("face.png", png_bytes(), "image/png")})
    store = running.bot.services.store
    before = await store.get_persona(w.guild.id, "Mira")
    await train(discord_standin, {"name": "Mira", "steps": 4})
    sheet = await discord_standin.wait_for_message(lambda m: m.files and "before (top)" in m.content, timeout=120)
    apply_id, discard_id = custom_ids(sheet)
    record = await running.bot.services.training.records.get(int(apply_id.split(":")[2]))
    assert record.bootstrap and record.state is TrainingState.FINISHED
    pictures_dir = Path(record.folder) / "pictures"
    drawn = sorted(pictures_dir.glob("drawn-*.png"))
    captions = [path.with_suffix(".txt").read_text() for path in drawn]
    assert len(drawn) >= 2 and any("beach" in caption for caption in captions), captions
    shown = [body.get("content", "") for _, body in progress_message(discord_standin).edits]
    assert any("drawn pictures kept" in text or "all drawn pictures were kept" in text for text in shown), shown

    pressed = await discord_standin.click_button(sheet, discard_id, w.admin)
    assert "Discarded" in (await pressed.wait_for_followup(timeout=20)).content
    assert not Path(record.folder).exists()
    after = await store.get_persona(w.guild.id, "Mira")
    assert after.version == before.version and after.lora_path is None


async def test_a_restart_resumes_the_training_from_its_checkpoint(discord_standin, bots, tmp_path):
    data_dir = tmp_path / "data"
    first = await bots(data_dir=data_dir)
    w = discord_standin.default
    await create_persona(discord_standin)
    await train(discord_standin, {"name": "Mira", "steps": 300}, pictures(3))
    progress = None

    def steps_shown() -> list[int]:
        texts = [body.get("content", "") for _, body in progress.edits] if progress else []
        return [int(t.split("step ")[1].split("/")[0]) for t in texts if "step " in t]

    await discord_standin.wait_for_message(lambda m: m.source == "channel" and "Training **Mira**" in m.content)
    progress = progress_message(discord_standin)
    await eventually(lambda: steps_shown() and steps_shown()[-1] >= 4, timeout=60)
    await first.stop()  # a graceful restart: the worker checkpoints the training where it is
    stopped_at = steps_shown()[-1]
    edits_before = len(progress.edits)

    second = await bots(data_dir=data_dir)
    await eventually(lambda: len(steps_shown()) > edits_before - 1 and len(progress.edits) > edits_before + 1, 60)
    resumed = [int(body["content"].split("step ")[1].split("/")[0])
               for _, body in progress.edits[edits_before:] if "step " in body.get("content", "")]  # fmt: skip
    assert resumed and resumed[0] > stopped_at, (stopped_at, resumed)  # it went on, not from step 1
    (cancel_id,) = custom_ids(progress)
    pressed = await discord_standin.click_button(progress, cancel_id, w.admin)
    await pressed.wait_for_response(timeout=10)
    await eventually(lambda: "cancelled" in progress.content, timeout=30)
    assert not second.bot.services.service.training_busy
