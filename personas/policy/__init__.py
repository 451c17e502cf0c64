"""Text policy: what the words of a persona, a request, a prompt or a reply mean, however they are spelled.

Decisions (what the bot calls):
    check_persona_fields(fields, *, nsfw, has_reference) -> PolicyViolation | None      (setup, import, edit)
    check_picture(*, persona_text, request, prompt, negative, nsfw_allowed, age_restricted, has_reference)
        -> PictureDecision                                                             (every picture path)
    PictureDecision.harden(prompt, negative) / harden_prompt(prompt, negative, *, explicit, has_reference)
    check_chat_turn(text, *, context=()) -> PolicyViolation | None                      (before any LLM call)
    check_reply(text, *, context=(), nsfw_allowed, age_restricted) -> PolicyViolation | None   (before posting)
Building blocks: normalize, find_minor_cues, is_explicit, explicit_terms, names_clothing, negative_undresses,
negative_makes_younger. No Discord and no torch in here.
"""

from personas.policy.detect import (
    Tier,
    explicit_terms,
    find_minor_cues,
    is_explicit,
    names_clothing,
    negative_makes_younger,
    negative_undresses,
)
from personas.policy.hardening import harden_prompt
from personas.policy.normalize import TextForms, normalize, text_forms
from personas.policy.policy import (
    PictureDecision,
    PolicyViolation,
    Reason,
    check_chat_turn,
    check_persona_fields,
    check_picture,
    check_reply,
)

__all__ = [
    "PictureDecision",
    "PolicyViolation",
    "Reason",
    "TextForms",
    "Tier",
    "check_chat_turn",
    "check_persona_fields",
    "check_picture",
    "check_reply",
    "explicit_terms",
    "find_minor_cues",
    "harden_prompt",
    "is_explicit",
    "names_clothing",
    "negative_makes_younger",
    "negative_undresses",
    "normalize",
    "text_forms",
]
