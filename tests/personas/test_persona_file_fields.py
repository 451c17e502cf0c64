"""Persona file keys follow the Persona dataclass (fields declared once), and `selfiebot prompt` honours the
persona's prompt style and scenario."""

from __future__ import annotations

import io
import json

import pytest

from personas.cli import prompt_main
from personas.files import FILE_KEYS, PersonaSpec, dump_persona_toml, load_persona_file
from personas.models import EDITABLE_PERSONA_FIELDS, Persona

TOML = """
name = "Mira"
appearance = "young woman, wavy auburn hair, green eyes"
prompt_style = "tags"
greeting = "Hi! Back from the market."
scenario = "Mira is at the harbour on a sunny afternoon."
"""


def test_file_keys_are_the_editable_persona_fields():
    expected = [
        {"reference_path": "reference", "lora_path": "lora"}.get(name, name) for name in EDITABLE_PERSONA_FIELDS
    ]
    assert list(FILE_KEYS) == [key for key in expected if key not in ("reference_hash", "lora_hash", "card_extras")]
    assert {"greeting", "scenario", "prompt_style"} <= set(FILE_KEYS)


def test_greeting_scenario_and_prompt_style_round_trip_through_toml():
    spec = load_persona_file(TOML)
    assert (spec.prompt_style, spec.greeting) == ("tags", "Hi! Back from the market.")
    assert load_persona_file(dump_persona_toml(spec)) == spec
    persona = spec.to_persona(guild_id=1, persona_id=2)
    assert (persona.prompt_style, persona.scenario) == ("tags", spec.scenario)
    again = load_persona_file(dump_persona_toml(persona))  # a stored persona writes the same file, seed spelled out
    assert again == PersonaSpec(**{**spec.__dict__, "seed": spec.effective_seed})
    assert spec.settings()["greeting"] == spec.greeting and "reference" not in spec.settings()


def test_defaults_are_the_personas_own():
    spec = PersonaSpec(name="A", appearance="x")
    persona = Persona(id=0, guild_id=0, name="A", appearance="x")
    for key in ("lora_scale", "ip_scale", "seed_mode", "nsfw", "prompt_style", "greeting", "style"):
        assert getattr(spec, key) == getattr(persona, key), key


def test_a_bad_prompt_style_is_one_sentence():
    with pytest.raises(Exception, match="prompt style must be"):
        load_persona_file(TOML.replace('"tags"', '"anime"'))


def _prompt(monkeypatch, capsys, path, *args: str) -> dict:
    conversation = {"messages": [{"author": "user", "content": "selfie please?"}]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(conversation)))
    assert prompt_main(["--persona", str(path), *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_prompt_command_uses_the_personas_style_and_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("PROMPT_STYLE", raising=False)
    path = tmp_path / "mira.toml"
    path.write_text(TOML, encoding="utf-8")
    line = _prompt(monkeypatch, capsys, path)
    assert line["prompt"].startswith("1girl, solo") and line["scene"]["location"] == "harbor"

    plain = tmp_path / "plain.toml"
    plain.write_text(TOML.replace('prompt_style = "tags"\n', ""), encoding="utf-8")
    assert not _prompt(monkeypatch, capsys, plain)["prompt"].startswith("1girl")
    assert _prompt(monkeypatch, capsys, plain, "--prompt-style", "tags")["prompt"].startswith("1girl, solo")
    monkeypatch.setenv("PROMPT_STYLE", "tags")
    assert _prompt(monkeypatch, capsys, plain)["prompt"].startswith("1girl, solo")
