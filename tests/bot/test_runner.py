"""`selfiebot run` configuration: the .env parser, settings, and the one-sentence answer without a token."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.runner import NO_TOKEN, run_main
from bot.settings import Settings, SettingsError, parse_dotenv


def test_dotenv_parsing_and_real_environment_wins(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# comment\nexport DISCORD_TOKEN='from-file'\nDATA_DIR=/srv/selfies # trailing\nSELFIE_STEPS=12\n"
        'LLM_BASE_URL="http://llm:8000/v1/"\n',
        encoding="utf-8",
    )
    assert parse_dotenv(dotenv.read_text())["DATA_DIR"] == "/srv/selfies"
    settings = Settings.from_env({"DISCORD_TOKEN": "from-env", "SELFIE_SIZE": "512"}, dotenv)
    assert settings.discord_token == "from-env"
    assert settings.data_dir == Path("/srv/selfies") and settings.database_path == Path(
        "/srv/selfies/selfiebot.sqlite3"
    )
    assert settings.selfie_steps == 12 and settings.selfie_size == 512 and settings.selfie_guidance == 7.0
    assert settings.llm_base_url == "http://llm:8000/v1"
    defaults = Settings.from_env({}, None)
    assert defaults.selfie_size is None and defaults.selfie_steps == 25 and defaults.model == "demo"


def test_bad_settings_name_the_variable():
    with pytest.raises(SettingsError, match="SELFIE_STEPS"):
        Settings.from_env({"SELFIE_STEPS": "many"}, None)
    with pytest.raises(SettingsError, match="SELFIE_SIZE"):
        Settings.from_env({"SELFIE_SIZE": "500"}, None)


def test_run_without_token_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert run_main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err == NO_TOKEN and "selfiebot demo" in err and err.count(". ") == 0
