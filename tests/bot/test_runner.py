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


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DEVICE": "gpu please"}, "DEVICE"),
        ({"MODEL": "no such folder here"}, "MODEL"),
        ({"IP_ADAPTER": "/nonexistent/ip-adapter"}, "IP_ADAPTER"),
        ({"LLM_BASE_URL": "llm:8000"}, "LLM_BASE_URL"),
        ({"DISCORD_API_BASE": "ftp://example.org"}, "DISCORD_API_BASE"),
        ({"LLM_TIMEOUT": "-3"}, "LLM_TIMEOUT"),
        ({"PROGRESS_INTERVAL": "-1"}, "PROGRESS_INTERVAL"),
    ],
)
def test_every_bad_setting_is_one_sentence_naming_it(env, named):
    with pytest.raises(SettingsError, match=named) as caught:
        Settings.from_env(env, None)
    text = str(caught.value)
    assert text.endswith(".") and "\n" not in text


def test_run_with_a_device_this_machine_lacks_ends_in_a_sentence(monkeypatch, tmp_path, capsys):
    """DEVICE=cuda on a machine without CUDA: one sentence on stderr, no traceback."""
    monkeypatch.chdir(tmp_path)
    for key, value in {"DISCORD_TOKEN": "x" * 30, "DEVICE": "cuda", "DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(key, value)
    assert run_main([]) == 1
    err = capsys.readouterr().err
    assert "DEVICE=cuda" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_run_without_token_says_what_to_do(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    assert run_main([]) == 2
    err = capsys.readouterr().err.strip()
    assert err == NO_TOKEN and "selfiebot demo" in err and err.count(". ") == 0
