"""What reaches the chat model: persona fields are checked before they enter a system prompt."""

from __future__ import annotations

from bot.replies import system_prompt
from personas.models import Persona


def test_persona_fields_that_break_the_policy_never_enter_the_system_prompt():
    unsafe = Persona(id=1, guild_id=1, name="Kay", appearance="a 15 year old girl", personality="loves lingerie")
    prompt = system_prompt(unsafe, selfie=False)
    assert "15" not in prompt and "lingerie" not in prompt and "safe for work" in prompt
    fine = Persona(id=2, guild_id=1, name="Mira", appearance="adult woman, auburn hair", personality="loves hiking")
    assert "loves hiking" in system_prompt(fine, selfie=False)
