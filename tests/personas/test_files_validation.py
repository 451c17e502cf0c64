from __future__ import annotations

import tomllib

import pytest

from personas import list_example_personas
from personas.errors import PersonaError, PersonaFileError
from personas.files import PersonaSpec, dump_persona_toml, load_persona_file
from personas.models import Persona
from personas.seeds import selfie_seed, take_seed
from personas.validation import validate_appearance, validate_name


def test_examples_load_and_round_trip():
    examples = list_example_personas()
    assert len(examples) >= 2
    for path in examples:
        spec = load_persona_file(path)
        assert spec.name and spec.appearance
        assert load_persona_file(dump_persona_toml(spec)) == spec


def test_round_trip_escapes_awkward_text():
    spec = PersonaSpec(
        name='Zoë "Z"',
        appearance='back\\slash, "quotes", tab\there, line\nbreak, bell\x07, emoji 🌊, unicode ünï',
        personality="multi\nline\r\ntext with ''' and \"\"\" inside",
        seed=4294967295,
        seed_mode="varied",
        negative="x = y # not a comment",
        lora_scale=0.25,
        ip_scale=1.0,
        nsfw=True,
        avatar_url="https://example.com/a.png?x=1&y=2",
    )
    text = dump_persona_toml(spec)
    data = tomllib.loads(text)  # the escaping is exact: TOML gives back every character
    assert data["name"] == spec.name and data["appearance"] == spec.appearance
    assert data["personality"] == spec.personality and data["negative"] == spec.negative
    loaded = load_persona_file(text)  # loading also cleans control characters out of the text fields
    assert loaded.appearance == 'back\\slash, "quotes", tab here, line break, bell , emoji 🌊, unicode ünï'
    assert (loaded.seed, loaded.seed_mode, loaded.lora_scale, loaded.nsfw) == (4294967295, "varied", 0.25, True)
    assert load_persona_file(dump_persona_toml(loaded)) == loaded


def test_exports_a_stored_persona():
    persona = Persona(id=1, guild_id=2, name="Mira", appearance="auburn hair", seed=9, lora_path="/d/l.safetensors")
    spec = load_persona_file(dump_persona_toml(persona))
    assert (spec.name, spec.appearance, spec.seed, spec.lora) == ("Mira", "auburn hair", 9, "/d/l.safetensors")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('appearance = "x"', "name"),
        ('name = "A"', "appearance"),
        ('name = "A"\nappearance = "x"\nseed = "12"', "seed"),
        ('name = "A"\nappearance = "x"\nseed = -1', "seed"),
        ('name = "A"\nappearance = "x"\nlora_scale = 9', "lora scale"),
        ('name = "A"\nappearance = "x"\ncolour = "red"', "Unknown key"),
        ('name = "A"\nappearance = "x"\nnsfw = "yes"', "nsfw"),
        ('name = "A"\nappearance = \n', "not valid TOML"),
        ('name = ""\nappearance = "x"', "name"),
    ],
)
def test_bad_files_give_one_clear_sentence(text, fragment):
    with pytest.raises(PersonaFileError) as caught:
        load_persona_file(text)
    message = str(caught.value)
    assert fragment.lower() in message.lower()
    assert message.count("\n") == 0 and message.endswith(".")


def test_missing_file(tmp_path):
    with pytest.raises(PersonaFileError, match="no persona file"):
        load_persona_file(tmp_path / "nope.toml")


def test_relative_paths_resolve_against_the_file(tmp_path):
    (tmp_path / "p.toml").write_text('name = "A"\nappearance = "x"\nreference = "refs/a.png"\n', encoding="utf-8")
    assert load_persona_file(tmp_path / "p.toml").reference == str((tmp_path / "refs" / "a.png").resolve())


def test_validate_name():
    assert validate_name("  Mira\u200b  ") == "Mira"
    assert validate_name("Ｍｉｒａ") == "Mira"  # full-width folds under NFKC
    for bad in ("", "\u200b\u200d", "x" * 33):
        with pytest.raises(PersonaError):
            validate_name(bad)
    for lookalike in ("MIRA", "Мira", "Μira", "Mіra"):  # Latin caps, Cyrillic М, Greek Μ, Cyrillic і
        with pytest.raises(PersonaError, match="already has"):
            validate_name(lookalike, ["Mira"])
    assert validate_name("Kira", ["Mira"]) == "Kira"


def test_validate_appearance():
    assert validate_appearance(" red\thair ") == "red hair"
    with pytest.raises(PersonaError):
        validate_appearance("   ")
    with pytest.raises(PersonaError):
        validate_appearance("a" * 401)


def test_seeds_are_deterministic():
    assert selfie_seed(42, "fixed", 0) == selfie_seed(42, "fixed", 99) == 42
    varied = [selfie_seed(42, "varied", n) for n in range(20)]
    assert varied == [selfie_seed(42, "varied", n) for n in range(20)]
    assert len(set(varied)) == 20 and all(0 <= s < 2**32 for s in varied)
    assert take_seed(42, 0) == 42
    assert take_seed(42, 1) == take_seed(42, 1) != take_seed(42, 2)
