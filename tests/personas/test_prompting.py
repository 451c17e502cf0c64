from __future__ import annotations

import pytest

from personas.models import Persona, SceneState
from personas.prompting import build_prompt, describe_scene, sanitize_chat_text
from personas.tokens import estimate_tokens

MIRA = Persona(
    id=1, guild_id=1, name="Mira", appearance="young woman, wavy auburn hair, green eyes", lora_trigger="mirasks"
)
FULL = SceneState(
    location="beach", outfit="red sundress", activity="reading", time_of_day="sunset", weather="windy",
    mood="happy", props=["dog", "coffee"],
)  # fmt: skip


def words(text: str) -> int:
    return len(text.replace(",", " ").split())


def test_identity_first_then_scene_then_style():
    built = build_prompt(MIRA, FULL, "selfie", count_tokens=words, budget=200)
    prompt = built.prompt
    assert prompt.startswith("mirasks, young woman, wavy auburn hair, green eyes, selfie")
    assert prompt.index("beach") < prompt.index("sundress") < prompt.index("high quality")
    assert "nsfw" in built.negative_prompt and built.dropped == []


def test_budget_drops_least_important_scene_parts_first():
    built = build_prompt(MIRA, FULL, "selfie", count_tokens=words, budget=30)
    assert words(built.prompt) <= 30
    assert built.dropped[:3] == ["quality", "props", "time_of_day"]
    assert "beach" in built.prompt and "mirasks" in built.prompt


def test_identity_is_never_dropped():
    built = build_prompt(MIRA, FULL, "face", count_tokens=words, budget=3)
    assert built.prompt.startswith("mirasks, young woman, wavy auburn hair, green eyes")
    assert "beach" not in built.prompt


def test_default_budget_fits_clip_with_offline_estimate():
    long_persona = Persona(id=1, guild_id=1, name="L", appearance="tall woman with long braided silver hair " * 3)
    built = build_prompt(long_persona, FULL, "full_body")
    assert estimate_tokens(built.prompt) <= 75 or built.dropped[-1] == "location"
    assert estimate_tokens(build_prompt(MIRA, FULL).prompt) <= 75


def test_estimate_over_counts_words():
    assert estimate_tokens("photorealistic") >= 2
    assert estimate_tokens("a, b") == 3


def test_deterministic():
    assert build_prompt(MIRA, FULL, "selfie") == build_prompt(MIRA, FULL, "selfie")


def test_sanitize_chat_text():
    dirty = "(masterpiece:1.4) <lora:evil:1.0> [beach] BREAK a\u200bb\x00c\nline {x} " + "word " * 50
    clean = sanitize_chat_text(dirty, 60)
    for bad in ("(", ")", "<", ">", "[", "]", "{", ":1.4", "lora:", "BREAK", "\u200b", "\x00", "\n"):
        assert bad not in clean
    assert clean.startswith("masterpiece") and "beach" in clean and "ab c" in clean
    assert len(clean) <= 60


def test_scene_text_from_elsewhere_is_sanitized():
    scene = SceneState(location="(castle:2.0)\u200b <lora:x:1>", outfit="armor\nBREAK nude")
    prompt = build_prompt(MIRA, scene).prompt
    assert "(" not in prompt and "lora" not in prompt and "BREAK" not in prompt and "\n" not in prompt


def test_describe_scene():
    assert describe_scene(SceneState()) == "a casual selfie"
    assert (
        describe_scene(SceneState(location="beach", outfit="red sundress")) == "on a sandy beach, wearing red sundress"
    )


def test_prompt_tool_syntax_and_invisible_characters_are_stripped():
    from personas.prompting import sanitize_chat_text, strip_prompt_syntax

    hostile = (
        "(((beach:1.5))) <lora:evil:1> ＜lora:x:1＞ [cafe|park] {red|blue} __wildcard__ embedding:bad BREAK "
        "a AND b \\(esc\\) \u202eevil\u202c ze\u200bro\u2060\ufeff\x07\x1b"
    )
    cleaned = sanitize_chat_text(hostile, 400)
    for bad in ("(", ")", "<", ">", "[", "]", "{", "}", "|", ":", "_", "\\", "BREAK", "AND", "lora", "embedding"):
        assert bad not in cleaned, (bad, cleaned)
    assert all(ch.isprintable() for ch in cleaned)
    assert "beach" in cleaned and "zero" in cleaned
    # The intent reader keeps its clause breaks.
    assert strip_prompt_syntax("a pic?\n(((beach)))") == "a pic?\n   beach   "


def test_lora_trigger_words_keep_underscores_but_lose_prompt_syntax():
    from personas.prompting import clean_trigger_words

    assert clean_trigger_words("mira_v2") == "mira_v2"
    assert clean_trigger_words("(ohwx_woman:1.4) <lora:evil:1>") == "ohwx_woman"
    assert clean_trigger_words("sks\u200b person") == "sks person"


def test_tags_style_orders_count_identity_shot_scene_quality():
    built = build_prompt(MIRA, FULL, "selfie", count_tokens=words, budget=200, style="tags")
    prompt = built.prompt
    assert prompt.startswith("1girl, solo, mirasks, wavy auburn hair, green eyes, selfie, upper body")
    assert prompt.index("beach") < prompt.index("red sundress") < prompt.index("masterpiece, best quality")
    assert "smile" in prompt and "sunset" in prompt
    # Tags, not sentences: no "on a sandy beach", "wearing", "young woman".
    for phrase in ("on a sandy beach", "wearing", "young woman", "photorealistic"):
        assert phrase not in prompt
    assert built.negative_prompt.startswith("nsfw, nude, explicit")


def test_tags_style_fits_the_same_budget_and_keeps_identity():
    built = build_prompt(MIRA, FULL, "full_body", style="tags")
    assert estimate_tokens(built.prompt) <= 75
    tight = build_prompt(MIRA, FULL, "face", count_tokens=words, budget=12, style="tags")
    assert tight.prompt.startswith("1girl, solo, mirasks, wavy auburn hair, green eyes")
    assert tight.dropped[:3] == ["quality", "props", "time_of_day"]
    assert "beach" not in tight.prompt


def test_tags_style_subject_count_and_age_words():
    man = Persona(id=2, guild_id=1, name="Kenji", appearance="elderly man with a thick grey beard, wearing a suit")
    prompt = build_prompt(man, SceneState(), style="tags").prompt
    assert prompt.startswith("1boy, solo, old man, thick grey beard, suit, selfie")
    someone = Persona(id=3, guild_id=1, name="Echo", appearance="silver hair, robot arm")
    assert build_prompt(someone, SceneState(), style="tags").prompt.startswith("solo, silver hair, robot arm")


def test_tags_style_leaves_other_people_out_of_a_solo_picture():
    scene = SceneState(location="park", props=["boyfriend", "dog"])
    prompt = build_prompt(MIRA, scene, style="tags").prompt
    assert "boyfriend" not in prompt and "dog" in prompt


def test_natural_style_is_the_unchanged_default():
    assert build_prompt(MIRA, FULL) == build_prompt(MIRA, FULL, style="natural")
    assert build_prompt(MIRA, FULL).prompt.startswith("mirasks, young woman, wavy auburn hair")
    with pytest.raises(ValueError):
        build_prompt(MIRA, FULL, style="poetry")


async def test_planner_passes_the_prompt_style_through():
    from personas.models import Turn
    from personas.planner import plan_selfie

    turns = [Turn(role="persona", content="at the beach rn"), Turn(role="user", content="selfie?")]
    plan = await plan_selfie(MIRA, turns, SceneState(), prompt_style="tags")
    assert plan.prompt.startswith("1girl, solo, mirasks") and "beach" in plan.prompt
    natural = await plan_selfie(MIRA, turns, SceneState())
    assert natural.prompt.startswith("mirasks, young woman")
