"""Live previews: small pictures of the denoising so far reach the progress message and stop at the final picture."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.buttons import details_text
from bot.settings import Settings, SettingsError
from generation.preview import LatentPreviewer
from tests.bot.conftest import activate, create_persona, is_picture, selfie_of


@pytest.fixture
def previewing_engine(demo_engine):
    demo_engine.preview = LatentPreviewer(demo_engine.pipe, every=1)
    yield demo_engine
    demo_engine.preview = None


def attachment_names(body: dict) -> list[str]:
    return [attachment.get("filename", "") for attachment in body.get("attachments") or []]


async def test_previews_reach_the_progress_message_and_the_picture_replaces_them(
    discord_standin, bots, previewing_engine
):
    w = discord_standin.default
    # An age-restricted channel and an adult persona: the finished picture need not be checked for clothing, so
    # neither need the previews (with IMAGE_CHECK active, SFW channels get no previews).
    w.general.nsfw = True
    running = await bots(engine=previewing_engine, selfie_steps=12, progress_interval_s=0.05)
    await create_persona(discord_standin, nsfw=True)
    await activate(discord_standin, w.general)
    handle = await discord_standin.invoke_slash(w.guild, w.general, w.member, "selfie", options={"persona": "Mira"})
    await handle.wait_for_response(timeout=3)
    await handle.wait_until(lambda: handle.original is not None and "Sent" in handle.original.content, timeout=30)

    bodies = [body for _, body in handle.edits]
    with_preview = [i for i, body in enumerate(bodies) if "preview.png" in attachment_names(body)]
    assert with_preview, [attachment_names(b) for b in bodies]
    assert all("getting ready" in bodies[i].get("content", "") for i in with_preview)
    final = bodies[-1]
    assert "Sent" in final.get("content", "") and final.get("attachments") == []  # the preview is gone
    assert handle.original.files == []
    assert previewing_engine.preview.made >= len(with_preview)
    picture = [m for m in discord_standin.messages if is_picture(m) and not m.deleted][-1]
    assert Image.open(io.BytesIO(picture.files[0].data)).size == (64, 64)  # the real picture, not a preview
    record = await selfie_of(running.bot, picture)  # Details name the sampler, so the picture can be redrawn
    assert record.parameters["scheduler"] == "default" and "scheduler: `default`" in details_text(record, "Mira")


def test_device_lists_and_speed_settings_are_checked_at_start():
    settings = Settings.from_env(env={"DEVICE": "cpu,cpu", "SCHEDULER": "dpmpp_2m"}, dotenv=None)
    assert settings.device == "cpu,cpu" and settings.speed.scheduler.value == "dpmpp_2m"
    for env, words in [({"DEVICE": "cpu,gpu"}, "DEVICE must be"), ({"OFFLOAD": "swap"}, "OFFLOAD must be")]:
        with pytest.raises(SettingsError, match=words):
            Settings.from_env(env=env, dotenv=None)
