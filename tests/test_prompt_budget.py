"""The prompt builder counts with the pipeline's own CLIP tokenizer and keeps the identity within 77 tokens."""

from __future__ import annotations

from generation.demo_kit import build_demo_tokenizer
from personas.models import Persona, SceneState
from personas.prompting import build_prompt

TOKENIZER = build_demo_tokenizer()


def clip_tokens(text: str) -> int:
    return len(TOKENIZER(text, add_special_tokens=False, truncation=False).input_ids)


PERSONA = Persona(
    id=1,
    guild_id=1,
    name="Mira",
    appearance="young woman, shoulder-length wavy auburn hair, green eyes, light freckles, small silver nose stud",
    lora_trigger="mira_v2",
    style="candid smartphone photo, natural light, photorealistic",
)

BUSY_SCENE = SceneState(
    location="rooftop bar in the city at night",
    outfit="red silk dress with a leather jacket",
    activity="laughing with friends while holding a cocktail",
    time_of_day="late evening",
    weather="light rain",
    mood="playful smile",
    framing="portrait",
    props=["umbrella", "string lights", "sunglasses"],
)


def test_a_busy_scene_is_trimmed_to_the_tokenizers_budget_and_the_identity_leads():
    built = build_prompt(PERSONA, BUSY_SCENE, "selfie", count_tokens=clip_tokens)
    assert clip_tokens(built.prompt) <= 75
    assert built.prompt.startswith("mira_v2, young woman, shoulder-length wavy auburn hair")
    assert built.dropped and built.dropped[0] == "quality"  # least important goes first
    assert "rooftop" in built.prompt and "red silk dress" in built.prompt  # place and outfit survive


def test_a_quiet_scene_keeps_everything():
    built = build_prompt(PERSONA, SceneState(location="beach"), "selfie", count_tokens=clip_tokens)
    assert built.dropped == []
    assert "beach" in built.prompt and "photorealistic" in built.prompt


def test_the_offline_estimate_never_undercounts_the_tokenizer():
    from personas.tokens import estimate_tokens

    for scene in (BUSY_SCENE, SceneState(location="library"), SceneState()):
        prompt = build_prompt(PERSONA, scene, "full_body").prompt
        assert estimate_tokens(prompt) >= clip_tokens(prompt)
