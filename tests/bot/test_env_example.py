"""The shipped .env.example is a working configuration and documents every setting the bot reads."""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import Settings, parse_dotenv

ROOT = Path(__file__).resolve().parents[2]


def test_env_example_parses_to_the_defaults():
    env = parse_dotenv((ROOT / ".env.example").read_text())
    settings = Settings.from_env(env=env, dotenv=None)
    assert settings.model == "demo" and settings.device == "auto"
    assert settings.selfie_steps == 25 and settings.selfie_size is None and settings.lora_cache == 8
    assert settings.discord_token == ""


def test_every_setting_read_from_the_environment_is_documented():
    source = (ROOT / "bot" / "settings.py").read_text()
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', source)) - {"DEFAULT_API_BASE", "DEFAULT_GATEWAY"}
    documented = set(parse_dotenv((ROOT / ".env.example").read_text()))
    assert read - documented == set()
