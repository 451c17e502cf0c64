"""The scale-out configurations end to end through the Discord stand-in: pictures drawn on a Ray Serve replica
(GENERATION_BACKEND=ray), and the bot on discord.py's AutoShardedBot (SHARD_COUNT=auto)."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from discord.ext import commands
from PIL import Image

from generation.request import GenerationRequest
from generation.service import GenerationService
from tests.bot.conftest import activate, assert_png, create_persona, is_picture, png_bytes, selfie_of


@pytest.fixture(scope="module")
def ray_instance():
    """A small local Ray instance the bot joins (it then leaves Ray running and the fixture shuts it down)."""
    ray = pytest.importorskip("ray")
    serve = pytest.importorskip("ray.serve")
    ray.init(num_cpus=2, object_store_memory=80 * 1024 * 1024, include_dashboard=False, log_to_driver=False)
    yield
    serve.shutdown()
    ray.shutdown()


async def test_a_chat_selfie_is_drawn_on_a_ray_replica(discord_standin, bots, kit, demo_engine, ray_instance):
    running = await bots(
        generation_backend="ray",
        model=str(kit.pipeline),  # the demo kit the local demo engine was loaded from: the same weights
        ip_adapter=kit.ip_adapter,
        device="cpu",
        dtype="float32",
    )
    service = running.bot.services.service
    assert not isinstance(service, GenerationService)
    w = discord_standin.default
    await create_persona(discord_standin, attachments={"reference": ("face.png", png_bytes(), "image/png")})
    await activate(discord_standin, w.general)

    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie from the beach")
    picture = await discord_standin.wait_for_message(is_picture, timeout=60)
    assert picture.author_name == "Mira" and f"<@{w.member.id}>" in picture.content
    assert_png(picture.files[0].data)
    progress = [m for m in discord_standin.messages if m.webhook_id and "getting ready" in m.payload["content"]]
    assert progress  # the replica's progress reached the channel

    # "Details" reproduce the picture: the same parameters on the in-process engine draw the same pixels.
    record = await selfie_of(running.bot, picture)
    assert record.parameters["reference_path"]  # the persona's reference went to the replica (by content)
    fields = {field.name for field in dataclasses.fields(GenerationRequest)}
    request = GenerationRequest(**{key: value for key, value in record.parameters.items() if key in fields})
    local = GenerationService(demo_engine)
    try:
        again = (await local.generate(request)).image
    finally:
        await local.close()
    posted = np.asarray(Image.open(io.BytesIO(picture.files[0].data)).convert("RGB"), dtype=np.int16)
    assert int(np.abs(posted - np.asarray(again, dtype=np.int16)).max()) == 0
    assert service.completed >= 2  # the upload check at creation, then the selfie


async def test_an_auto_sharded_bot_serves_a_chat_selfie(discord_standin, bots):
    running = await bots(shard_count=None)  # SHARD_COUNT=auto: Discord's recommendation from GET /gateway/bot
    assert isinstance(running.bot, commands.AutoShardedBot)
    assert discord_standin.gateway.identifies[-1]["shard"] == [0, 1]
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira send me a selfie from the beach")
    picture = await discord_standin.wait_for_message(is_picture, timeout=20)
    assert picture.author_name == "Mira"
