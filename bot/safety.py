"""The picture and text policy where it meets Discord: channels, personas, and the sentences a refusal says.

The rules themselves live in `personas.policy` (normalised meaning, not spelling) and are applied on every path that
turns text into a picture or a post: persona setup and import, chat selfies, `/selfie`, "Another take", previews,
restart resumes, LLM prompts and LLM replies. Here we only add what Discord decides (an age-restricted channel, a
thread following its parent) and choose the words. The image check on the finished picture is `bot/image_check.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import discord

from personas import policy
from personas.models import Persona
from personas.policy import PictureDecision, Reason

log = logging.getLogger(__name__)

MINOR_REFUSAL = "No. I don't make anything like that, ever."
NEUTRAL_REPLY = "Let's talk about something else 🙂"
_DECLINES = {
    Reason.MINOR: MINOR_REFUSAL,
    Reason.MINOR_PERSONA_NSFW: MINOR_REFUSAL,
    Reason.REAL_PERSON: "I don't send explicit pictures of myself; that's a line I keep everywhere.",
    Reason.PERSONA_SFW: "Mm, not that kind of picture from me. Ask me for something else?",
    Reason.CHANNEL_SFW: "Not in here! Ask me in an age-restricted channel if you want that kind of picture.",
    Reason.NEGATIVE_UNDRESSES: "Mm, not that kind of picture from me. Ask me for something else?",
}
_SETUP_REFUSALS = {
    Reason.MINOR: "A persona can never combine a minor with anything sexual; change the description.",
    Reason.MINOR_PERSONA_NSFW: (
        "A persona described as a minor (or with any sign of one) can never allow NSFW; turn NSFW off or change it."
    ),
    Reason.REAL_PERSON: "A persona drawn from a reference photo can never be explicit; remove the explicit wording.",
    Reason.PERSONA_SFW: "This persona does not allow NSFW, so its description cannot be explicit.",
    Reason.NEGATIVE_UNDRESSES: "The negative prompt cannot name clothing: that would undress the pictures.",
}


@dataclass(frozen=True)
class Decision:
    """A picture decision with the persona's words for a refusal (`decline`)."""

    policy: PictureDecision
    decline: str = ""

    @property
    def allowed(self) -> bool:
        return self.policy.allowed

    @property
    def explicit(self) -> bool:
        return self.policy.explicit

    @property
    def must_stay_clothed(self) -> bool:
        return self.policy.must_stay_clothed

    @property
    def reason(self) -> str:
        return str(self.policy.violation) if self.policy.violation else ""

    def harden(self, prompt: str, negative: str) -> tuple[str, str]:
        return self.policy.harden(prompt, negative)


def channel_is_age_restricted(channel: object) -> bool:
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return bool(parent is not None and parent.is_nsfw())
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else bool(getattr(channel, "nsfw", False))


def persona_text(persona: Persona) -> str:
    """Every text field of a persona: a minor cue anywhere in it counts at picture time."""
    # The negative is judged as a negative (what it removes), not as a description of the persona.
    fields = persona_fields(persona)
    return " . ".join(text for name, text in fields.items() if name != "negative" and text)


def check_picture(persona: Persona, channel: object, *, request: str, prompt: str = "", negative: str = "") -> Decision:
    """May `persona` send this picture in `channel`? Called on the request alone before admission, and on the final
    prompt and negative (every extractor and template applied) right before generation."""
    decision = policy.check_picture(
        persona_text=persona_text(persona),
        request=request,
        prompt=prompt,
        negative=negative,
        nsfw_allowed=persona.nsfw,
        age_restricted=channel_is_age_restricted(channel),
        has_reference=bool(persona.reference_path),
    )
    if decision.allowed:
        return Decision(decision)
    return Decision(decision, _DECLINES.get(decision.reason, MINOR_REFUSAL))


def check_persona_settings(fields: Mapping[str, object], *, nsfw: bool, has_reference: bool) -> str | None:
    """A sentence refusing persona settings (typed, edited or imported) that break the policy, else None."""
    texts = {k: str(v) for k, v in fields.items() if isinstance(v, str) and v}
    violation = policy.check_persona_fields(texts, nsfw=nsfw, has_reference=has_reference)
    if violation is None:
        return None
    log.info("refused persona settings (%s)", violation)
    return _SETUP_REFUSALS.get(violation.reason, _SETUP_REFUSALS[Reason.MINOR])


def persona_fields(persona: Persona) -> dict[str, str]:
    return {
        "name": persona.name,
        "appearance": persona.appearance,
        "personality": persona.personality,
        "style": persona.style,
        "negative": persona.negative,
        "lora_trigger": persona.lora_trigger,
    }


def chat_turn_refused(text: str, *, context: Iterable[str] = ()) -> bool:
    """Sexual wording about a minor (in this text, or with `context`): never answered, never sent to an LLM."""
    return policy.check_chat_turn(text, context=context) is not None


def reply_allowed(text: str, persona: Persona, channel: object, *, context: Iterable[str] = ()) -> bool:
    """May the persona post this (LLM-written) text here?"""
    violation = policy.check_reply(
        text, context=context, nsfw_allowed=persona.nsfw, age_restricted=channel_is_age_restricted(channel)
    )
    if violation is not None:
        log.warning("withheld a reply of %s (%s)", persona.name, violation)
    return violation is None
