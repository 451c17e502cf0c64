"""What pictures may be made where: explicit content, minors, real people's photos.

Rules, checked on the request text, the persona and the final prompt:
- anything sexual together with any sign of a minor is refused everywhere;
- explicit pictures of a persona drawn from an uploaded photo (a reference image) are refused everywhere, because
  the photo may show a real person;
- other explicit pictures only in an age-restricted channel (a thread follows its parent) of a persona whose admin
  allowed NSFW.
The word lists are deliberately broad: a declined request costs a rephrase, a wrong picture costs far more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import discord

from personas.models import Persona
from personas.validation import clean_text

_EXPLICIT = re.compile(
    r"\b(?:nsfw|nude|nudes|naked|nudity|topless|bottomless|nipples?|boobs?|tits|breasts?|genitals?|pussy|penis|"
    r"dick|cock|vagina|butt ?naked|sex|sexy|sexual|porn\w*|xxx|explicit|lewd|hentai|erotic\w*|undress\w*|strip\w*|"
    r"lingerie|onlyfans|horny|spicy pics?|in (?:the|your) underwear|without (?:any )?clothes|no clothes|"
    r"fetish\w*|bdsm|orgasm\w*|cum|aroused|talk dirty|dirty talk|sext\w*|slut\w*|whore|blowjob|handjob|"
    r"masturbat\w*|grop(?:e|es|ed|ing))\b",
    re.IGNORECASE,
)
_MINOR = re.compile(
    r"\b(?:child|children|kid|kids|minor|minors|underage|under-age|preteen|pre-teen|teen|teens|teenage\w*|"
    r"schoolgirl|schoolboy|loli|lolicon|shota|young girl|little girl|little boy|toddler|baby|infant|"
    r"middle school|high school(?:er)?|junior high|elementary school|grade school|primary school|jailbait|"
    r"(?:1[0-7]|[1-9]|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen)[ -]?"
    r"(?:yo|y/o|years? old|year-old|yrs? old))\b",
    re.IGNORECASE,
)
# Digits and symbols people swap for letters to slip past word lists ("nud3", "s3xy", "$ex").
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
_MIXED_WORD = re.compile(r"[a-z0-9@$]*[a-z][a-z0-9@$]*")
# Letters spelled out one by one: "n u d e", "n.u.d.e", "n-u-d-e".
_SPELLED = re.compile(r"\b(?:[a-z][\s.\-_*]+){2,}[a-z]\b")


def _spelled_words(run: str) -> str:
    """ "a n u d e" -> "anude nude ude ...": every suffix, since a spelled word can follow a one-letter word."""
    letters = re.sub(r"[^a-z]", "", run)[:40]
    return " " + " ".join(letters[i:] for i in range(max(1, len(letters) - 2))) + " "


def _variants(text: str) -> tuple[str, ...]:
    """The text as written (cleaned of invisible characters and lookalike forms) plus its de-obfuscated forms."""
    plain = clean_text(text or "").casefold()
    deleet = _MIXED_WORD.sub(lambda m: m.group().translate(_LEET), plain)
    spelled = _SPELLED.sub(lambda m: _spelled_words(m.group()), deleet)
    return plain, deleet, spelled


MINOR_REFUSAL = "No. I don't make anything like that, ever."


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit: bool = False
    reason: str = ""  # "minor" | "real_person" | "channel" | "persona"
    decline: str = ""  # in-character sentence when not allowed


def is_explicit(text: str) -> bool:
    return any(_EXPLICIT.search(variant) for variant in _variants(text))


def mentions_minor(text: str) -> bool:
    return any(_MINOR.search(variant) for variant in _variants(text))


def sexualises_minors(text: str) -> bool:
    """Sexual wording together with any sign of a minor: refused everywhere, in pictures and in words."""
    return is_explicit(text) and mentions_minor(text)


def channel_is_age_restricted(channel: object) -> bool:
    if isinstance(channel, discord.Thread):
        parent = channel.parent
        return bool(parent is not None and parent.is_nsfw())
    is_nsfw = getattr(channel, "is_nsfw", None)
    return bool(is_nsfw()) if callable(is_nsfw) else bool(getattr(channel, "nsfw", False))


def check_picture(persona: Persona, channel: object, *texts: str) -> Decision:
    """May `persona` send a picture for a request made of `texts` (request, prompt) in `channel`?"""
    combined = " ".join(t for t in texts if t)
    explicit = is_explicit(combined)
    if not explicit:
        return Decision(True)
    if mentions_minor(combined) or mentions_minor(persona.appearance):
        return Decision(False, True, "minor", MINOR_REFUSAL)
    if persona.reference_path:
        return Decision(
            False, True, "real_person", "I don't send explicit pictures of myself; that's a line I keep everywhere."
        )
    if not persona.nsfw:
        return Decision(False, True, "persona", "Mm, not that kind of picture from me. Ask me for something else?")
    if not channel_is_age_restricted(channel):
        return Decision(
            False, True, "channel", "Not in here! Ask me in an age-restricted channel if you want that kind of picture."
        )
    return Decision(True, True)


def check_persona_settings(appearance: str, nsfw: bool) -> str | None:
    """A sentence refusing NSFW on a persona described as a minor, else None."""
    if nsfw and mentions_minor(appearance):
        return "A persona described as a minor can never allow NSFW; turn NSFW off or change the appearance."
    return None


def sfw_negative(negative: str) -> str:
    """The negative prompt with SFW terms in front, for pictures that must stay safe for work."""
    lowered = negative.lower()
    if "nsfw" in lowered and "nude" in lowered:
        return negative
    return ", ".join(p for p in ("nsfw, nude, explicit", negative) if p)
