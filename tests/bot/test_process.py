"""`selfiebot run` as an operator starts it: a real process configured only through the environment."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from tests.bot.conftest import activate, create_persona, eventually, pictures_for


async def test_selfiebot_run_serves_a_server_and_stops_cleanly_on_sigterm(discord_standin, engine_dir, tmp_path):
    env = os.environ | {
        "DISCORD_TOKEN": discord_standin.token,
        "DISCORD_API_BASE": discord_standin.api_base,
        "DISCORD_GATEWAY_URL": discord_standin.gateway_url,
        "DATA_DIR": str(engine_dir),  # the session's demo kit is already built there
        "DATABASE_PATH": str(tmp_path / "bot.sqlite3"),
        "MODEL": "demo",
        "DEVICE": "cpu",
        "SELFIE_STEPS": "2",
        "SELFIE_SIZE": "64",
        "PROGRESS_INTERVAL": "0.3",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        await eventually(lambda: discord_standin.command_put_count >= 1, timeout=90)
        # Commands are synced before the gateway connects; an interaction sent before the session is READY
        # would go to nobody, as on real Discord.
        await discord_standin.wait_until_connected(timeout=60)
        await create_persona(discord_standin)
        w = discord_standin.default
        await activate(discord_standin, w.general)
        await discord_standin.user_says(w.general, w.member, "Mira send me a selfie from the beach")
        await eventually(lambda: len(pictures_for(discord_standin, w.member)) == 1, timeout=60)
        process.send_signal(signal.SIGTERM)
        output = (await asyncio.wait_for(process.stdout.read(), timeout=60)).decode()
        assert await asyncio.wait_for(process.wait(), timeout=30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert "shutting down" in output
    assert discord_standin.token not in output
    assert (tmp_path / "bot.sqlite3").exists()
