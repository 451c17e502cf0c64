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

_EXPLICIT = re.compile(
    r"\b(?:nsfw|nude|nudes|naked|nudity|topless|bottomless|nipples?|boobs?|tits|breasts?|genitals?|pussy|penis|"
    r"dick|cock|vagina|butt ?naked|sex|sexy|sexual|porn\w*|xxx|explicit|lewd|hentai|erotic\w*|undress\w*|strip\w*|"
    r"lingerie|onlyfans|horny|spicy pics?|in (?:the|your) underwear|without (?:any )?clothes|no clothes|"
    r"fetish\w*|bdsm|orgasm\w*|cum|aroused)\b",
    re.IGNORECASE,
)
_MINOR = re.compile(
    r"\b(?:child|children|kid|kids|minor|minors|underage|under-age|preteen|pre-teen|teen|teens|teenage\w*|"
    r"schoolgirl|schoolboy|loli|lolicon|shota|young girl|little girl|little boy|toddler|baby|infant|"
    r"middle school|high school(?:er)?|junior high|(?:1[0-7]|[1-9])[ -]?(?:yo|y/o|years? old|year-old))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    explicit: bool = False
    reason: str = ""  # "minor" | "real_person" | "channel" | "persona"
    decline: str = ""  # in-character sentence when not allowed


def is_explicit(text: str) -> bool:
    return bool(_EXPLICIT.search(text or ""))


def mentions_minor(text: str) -> bool:
    return bool(_MINOR.search(text or ""))


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
        return Decision(False, True, "minor", "No. I don't make anything like that, ever.")
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
