"""The decisions the bot asks for: may this persona be saved, may this picture be drawn, may this text be posted.

Rules (one place, every path):
- sexual or undressed wording together with any minor cue is refused everywhere, age-restricted channels included;
  a minor cue anywhere in a persona's text (any field, typed or imported) means the persona can never be NSFW;
- nothing explicit of a persona drawn from an uploaded photo (a reference image): the photo may show a real person;
- other explicit pictures only for a persona whose admin allowed NSFW, in an age-restricted channel;
- the negative prompt is part of the picture: naming clothing in it ("clothes", "dress") undresses the picture, and
  naming adulthood in it ("adult", "mature") makes the body younger.
Every check reads text through `normalize`, so lookalike letters, leetspeak, separators and other languages count.
Each decision carries a `Reason` (what rule) and the words that decided it; the bot chooses the sentence users read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from personas.policy.detect import (
    Tier,
    explicit_terms,
    find_minor_cues,
    negative_makes_younger,
    negative_undresses,
)
from personas.policy.hardening import harden_prompt
from personas.policy.normalize import TextForms, text_forms

# Persona fields that end up in the picture prompt; other fields (personality, card text) only feed the chat.
PICTURE_FIELDS = frozenset({"name", "appearance", "style", "lora_trigger", "lora", "trigger"})
NEGATIVE_FIELDS = frozenset({"negative", "negative_prompt"})


class Reason(StrEnum):
    MINOR = "minor"  # sexual/undressed wording together with a minor cue, or a negative that makes a body younger
    MINOR_PERSONA_NSFW = "minor_persona_nsfw"  # a persona with a minor cue cannot have NSFW on
    REAL_PERSON = "real_person"  # explicit content of a persona drawn from a reference photo
    PERSONA_SFW = "persona_sfw"  # explicit content from a persona whose admin did not allow NSFW
    CHANNEL_SFW = "channel_sfw"  # explicit content outside an age-restricted channel
    NEGATIVE_UNDRESSES = "negative_undresses"  # clothing named in the negative of a picture that must stay clothed


@dataclass(frozen=True)
class PolicyViolation:
    """Why something was refused: the rule, the field or input it was found in, and the words that decided it."""

    reason: Reason
    field: str
    found: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.field} ({', '.join(self.found) or 'no detail'})"


@dataclass(frozen=True)
class PictureDecision:
    """May a picture be drawn, and how.

    allowed: draw it. explicit: it will be explicit (harden with explicit=True).
    must_stay_clothed: the finished picture must be checked for nudity before anyone sees it (SFW channel, SFW
    persona, reference-photo persona, or a persona/request with a minor cue).
    """

    allowed: bool
    explicit: bool
    must_stay_clothed: bool
    has_reference: bool
    violation: PolicyViolation | None = None

    @property
    def reason(self) -> Reason | None:
        return self.violation.reason if self.violation else None

    def harden(self, prompt: str, negative: str) -> tuple[str, str]:
        """`harden_prompt` with this decision's settings; call it on the final prompt and negative."""
        return harden_prompt(prompt, negative, explicit=self.explicit, has_reference=self.has_reference)


def _first(found: Iterable[tuple[str, list[str]]]) -> tuple[str, tuple[str, ...]] | None:
    for name, words in found:
        if words:
            return name, tuple(words)
    return None


def check_persona_fields(
    fields: Mapping[str, str | None], *, nsfw: bool, has_reference: bool
) -> PolicyViolation | None:
    """Check a persona's text at setup (create, edit, import): None when it may be saved as it is.

    `fields` maps field names to text: "name", "appearance", "personality", "style", "negative", "lora_trigger"
    and any imported card field ("description", "scenario", ...). Typed and imported text go through the same check.
    """
    readings = {name: text_forms(text) for name, text in fields.items() if text}
    negative = " , ".join(str(fields[name]) for name in readings if name in NEGATIVE_FIELDS)
    described = {name: forms for name, forms in readings.items() if name not in NEGATIVE_FIELDS}
    picture = {name: forms for name, forms in described.items() if name in PICTURE_FIELDS}

    minor = _first((name, find_minor_cues(forms)) for name, forms in described.items())
    sexual = _first((name, explicit_terms(forms)) for name, forms in described.items())
    if minor and sexual:
        return PolicyViolation(Reason.MINOR, sexual[0], minor[1] + sexual[1])
    if minor and nsfw:
        return PolicyViolation(Reason.MINOR_PERSONA_NSFW, minor[0], minor[1])
    if nsfw and not has_reference and (younger := negative_makes_younger(negative)):
        return PolicyViolation(Reason.MINOR, "negative", tuple(younger))
    if has_reference or not nsfw:
        shown = _first((name, explicit_terms(forms)) for name, forms in picture.items())
        if shown:
            return PolicyViolation(Reason.REAL_PERSON if has_reference else Reason.PERSONA_SFW, *shown)
        if undressing := negative_undresses(negative):
            return PolicyViolation(Reason.NEGATIVE_UNDRESSES, "negative", tuple(undressing))
    return None


def check_picture(
    *,
    persona_text: str,
    request: str,
    prompt: str,
    negative: str,
    nsfw_allowed: bool,
    age_restricted: bool,
    has_reference: bool,
) -> PictureDecision:
    """May this picture be drawn? Call it on the final prompt and negative, after every extractor and template.

    persona_text: all of the persona's text (every field, joined) — a minor cue anywhere in it counts.
    request: what the user asked for (chat line or /selfie scene). prompt, negative: what goes to the pipeline.
    nsfw_allowed: the persona's admin allowed NSFW. age_restricted: the channel (or a thread's parent) is.
    has_reference: the persona is drawn from an uploaded photo.
    """
    request_forms, prompt_forms, negative_forms = text_forms(request), text_forms(prompt), text_forms(negative)
    minor = find_minor_cues(persona_text) + find_minor_cues(request_forms) + find_minor_cues(prompt_forms)
    sexual = explicit_terms(request_forms) + explicit_terms(prompt_forms)
    undressing = negative_undresses(negative_forms)
    must_stay_clothed = has_reference or not nsfw_allowed or not age_restricted or bool(minor)

    def refuse(reason: Reason, where: str, found: Iterable[str]) -> PictureDecision:
        violation = PolicyViolation(reason, where, tuple(dict.fromkeys(found)))
        return PictureDecision(False, bool(sexual or undressing), must_stay_clothed, has_reference, violation)

    if minor and (sexual or undressing):
        return refuse(Reason.MINOR, "request/prompt" if sexual else "negative", minor + (sexual or undressing))
    if sexual or (undressing and not must_stay_clothed):
        if younger := negative_makes_younger(negative_forms):
            return refuse(Reason.MINOR, "negative", younger)
    if sexual:
        if has_reference:
            return refuse(Reason.REAL_PERSON, "request/prompt", sexual)
        if not nsfw_allowed:
            return refuse(Reason.PERSONA_SFW, "request/prompt", sexual)
        if not age_restricted:
            return refuse(Reason.CHANNEL_SFW, "request/prompt", sexual)
        return PictureDecision(True, True, False, has_reference)
    if undressing and must_stay_clothed:
        return refuse(Reason.NEGATIVE_UNDRESSES, "negative", undressing)
    # clothing in the negative of a picture that may be explicit makes it explicit; harden it as one
    return PictureDecision(True, bool(undressing), must_stay_clothed, has_reference)


def _sexualises_minor(text: TextForms, context: Iterable[str]) -> PolicyViolation | None:
    """Sexual wording in `text` with a minor cue in it or in `context`, or a minor cue in `text` after sexual
    wording in `context`."""
    own_minor, own_sexual = find_minor_cues(text), explicit_terms(text)
    if own_minor and own_sexual:
        return PolicyViolation(Reason.MINOR, "text", tuple(own_minor + own_sexual))
    if not (own_minor or own_sexual):
        return None
    for earlier in context:
        if not earlier:
            continue
        forms = text_forms(earlier)
        if own_sexual and (cues := find_minor_cues(forms)):
            return PolicyViolation(Reason.MINOR, "context", tuple(cues + own_sexual))
        if own_minor and (words := explicit_terms(forms)):
            return PolicyViolation(Reason.MINOR, "context", tuple(own_minor + words))
    return None


def check_chat_turn(text: str, *, context: Iterable[str] = ()) -> PolicyViolation | None:
    """Check a user's chat line before it reaches any LLM call (reply or scene extraction); None when it may.

    context: the persona's text and the recent turns it will be read with; sexual wording here with a minor cue
    there (or the other way round) is refused like both in one line. A refused turn should also be left out of
    later context.
    """
    return _sexualises_minor(text_forms(text), context)


def check_reply(
    text: str, *, context: Iterable[str] = (), nsfw_allowed: bool, age_restricted: bool
) -> PolicyViolation | None:
    """Check an LLM reply before it is posted as the persona; None when it may be posted.

    Refused: a reply that sexualises a minor (with `context` as in `check_chat_turn`); hard explicit wording (nudity,
    sex) unless the persona allows NSFW in an age-restricted channel. Suggestive wording ("sexy") may be posted.
    """
    forms = text_forms(text)
    if violation := _sexualises_minor(forms, context):
        return PolicyViolation(violation.reason, "reply", violation.found)
    if not (nsfw_allowed and age_restricted) and (hard := explicit_terms(forms, tier=Tier.HARD)):
        return PolicyViolation(Reason.PERSONA_SFW if not nsfw_allowed else Reason.CHANNEL_SFW, "reply", tuple(hard))
    return None
