"""Is a user asking the persona for a picture? And is the persona's own reply saying it sends one?

Rules work per clause. A clause asks for a picture when a picture word ("selfie", "pic", "close-up") is the
object of a request ("send", "can I get", "you owe me") or stands nearly alone ("selfie?? 🥺"), or when the user
asks to see the persona ("lemme see you", "show me your outfit"). Offers ("want me to send you a pic?"), refusals
("no photos please"), pictures that belong to someone else ("my selfie from last week") and past events do not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from personas.models import RequestKind, SceneState
from personas.prompting import strip_prompt_syntax
from personas.scene import OfflineSceneExtractor
from personas.text import Clause, clauses, normalize, squash_repeats

_PICTURE_WORDS = {
    "selfie", "selfies", "selfy", "selfi", "sefie", "slefie", "selife", "pic", "pics", "pix", "pik", "piccy", "picc",
    "picture", "pictures", "pictur", "pitcure", "photo", "photos", "foto", "fotos", "photograph", "closeup",
    "headshot", "ootd", "snapshot", "pict",
}  # fmt: skip
_PICTURE_PHRASES = (("close", "up"), ("close", "-", "up"), ("full", "body"), ("mirror", "selfie"))
_REQUEST_VERBS = {
    "send", "sned", "snd", "sent", "sending", "take", "takes", "taking", "snap", "post", "drop", "share", "show",
    "gimme", "give", "get", "have", "need", "want", "wanna", "love", "owe", "see", "like", "mind",
}  # fmt: skip
_OFFER_VERBS = {
    "send",
    "sned",
    "sending",
    "sends",
    "keeps",
    "sent",
    "take",
    "took",
    "taking",
    "snap",
    "snapped",
    "post",
    "posted",
    "share",
}
_SELF_SUBJECTS = {"i", "i'm", "im", "i'll", "ill", "i've", "ive", "we", "we'll", "me", "i'd"}
_REFUSALS = {"no", "not", "don't", "dont", "stop", "quit", "never", "without", "nope", "didn't", "won't", "can't"}
_OWNERS = {"my", "his", "her", "their", "this", "that", "the", "these", "those", "our", "profile", "insta", "cover"}
_NOUN_USES = {"app", "apps", "album", "booth", "editor", "editing", "filter", "stick", "frame", "gallery", "roll",
              "dump", "shoot", "camera", "quality", "this", "is", "was", "are", "were"}  # fmt: skip
_ALONE_OK = {
    "a", "an", "one", "another", "quick", "cute", "new", "some", "pls", "plz", "please", "pl", "now", "rn", "time",
    "more", "again", "asap", "full", "body", "face", "close", "up", "-", "mirror", "goodnight", "morning", "good",
    "night", "gn", "gm", "head", "to", "toe", "of", "you", "yourself", "u", "from", "at", "in", "the", "with",
    "or", "it", "didn't", "happen", "didnt", "ur", "your", "today", "tonight", "outfit", "2", "w", "how", "about",
    "what", "any", "chance", "ok", "okay", "so", "and", "then", "maybe", "just", "hey", "yo", "hi", "pretty",
}  # fmt: skip
_LOOK_WORDS = {
    "face": {"face", "smile", "eyes", "haircut", "hair", "makeup", "lips", "freckles", "glasses"},
    "full_body": {"outfit", "outfits", "fit", "clothes", "dress", "look", "wearing", "shoes"},
}
_SEE_ME = re.compile(
    r"\b(?:lemme|let me|let's|lets|wanna|want to|i want to|i'd like to|i would like to|can i|could i|may i|i need to)"
    r" (?:see|look at) (?:you|u|ya|yourself|ur|your|what you|how you|that outfit|the outfit)\b"
    r"|\bshow (?:me |us )(?:you|u|yourself|ur|your|what you|how you|where you)\b|\bshow (?:yourself|ur|your)\b"
    r"|\bwhere'?s my (?:selfie|pic|photo|picture)"
)
_NOT_LOOKS = re.compile(
    r"\bshow me how to\b|\b(?:see |show (?:me |us )?)(?:your|ur) (?:favou?rite|playlist|homework|work|code|essay|notes|"
    r"song|music|recipe|art|drawing|car|cat|dog|house|place|room)s?\b"
)
_FULL_BODY = re.compile(
    r"full[ -]?body|full[ -]?length|head to toe|whole (?:outfit|body|look|fit)|what (?:you're|youre|you are|are you|r u|u r|ur)"
    r" wearing|\boutfit|\bootd\b|\bclothes\b|\bin that dress\b|\bwhole you\b|\bmirror selfie"
)
_FACE = re.compile(r"\bface\b|close[ -]?up|closeup|headshot|\bsmile\b|\beyes\b|haircut|\bmakeup\b")
_SENDING = re.compile(
    r"\bhere(?:'s| is| are|s)? (?:a |my |me|one|the |you go|ya go|it\b|this\b|your |some )"
    r"|\b(?:sending|sent|snapped|took|taking|snapping) (?:you |u |ya )?(?:a |one|it|this|that|my |the |some |pic|selfie|photo)"
    r"|\*(?:sends|takes|snaps|holds up|raises)\b|\bsay cheese\b|\b(?:lemme|let me) (?:take|snap) (?:one|a)\b"
    r"|\bjust for you\b.*📸|📸"
)
_NOT_SENDING = re.compile(
    r"\b(?:can't|cant|cannot|won't|wont|don't|dont|not|never|no)\b[^.!?]*\b(?:send|sending|pic|selfie|photo|picture)"
    r"|\b(?:i'll|ill|i will|gonna|later|tomorrow|maybe)\b[^.!?]*\b(?:send|sending|snap|take)\b"
)


@dataclass(frozen=True)
class SelfieRequest:
    kind: RequestKind = "selfie"
    scene: SceneState = field(default_factory=SceneState)


def _words(clause: Clause) -> list[str]:
    return [squash_repeats(token) for token in clause.tokens]


def _is_picture_word(words: list[str], index: int) -> bool:
    word = words[index]
    if word in _PICTURE_WORDS or word.startswith("selfie"):
        return True
    return any(tuple(words[index : index + len(p)]) == p for p in _PICTURE_PHRASES)


def _picture_indexes(words: list[str]) -> list[int]:
    return [i for i in range(len(words)) if _is_picture_word(words, i)]


def _offer_or_past(words: list[str], verb_index: int) -> bool:
    """'i'll send', 'want me to send', 'should i send', 'i just sent': the user is the one giving."""
    before = words[max(0, verb_index - 4) : verb_index]
    others = {"he", "she", "they", "mom", "mum", "dad", "sister", "brother", "friend", "friends", "someone"}
    return bool(set(before) & (_SELF_SUBJECTS | others)) or (words[verb_index] in {"sent", "took", "posted", "snapped"})


def _clause_asks(clause: Clause) -> bool:
    words = _words(clause)
    text = " ".join(words)
    if _NOT_LOOKS.search(text):
        return False
    if _SEE_ME.search(text):
        return not any(w in _REFUSALS for w in words[:2])
    pictures = _picture_indexes(words)
    if not pictures:
        return False
    first = pictures[0]
    before = words[:first]
    after = words[first + 1 :]
    if set(before) & _REFUSALS or (before and before[-1] in _OWNERS) or (after and after[0] in _NOUN_USES):
        return False
    if words[first] == "picture" and after[:1] == ["this"]:
        return False
    if len(after) >= 2 and after[0] == "of" and after[1] in {"my", "mine", "me", "it", "this", "that"}:
        return False  # "a pic of my lunch" is the user's picture
    if re.search(r"\b(?:how|why|when|where|do|did|does) (?:do |did )?(?:you|u) (?:take|like|ever|get)\b", text):
        return False
    verbs = [i for i, w in enumerate(before) if w in _REQUEST_VERBS]
    if verbs:
        verb = verbs[-1]
        if before[verb] in _OFFER_VERBS and _offer_or_past(words, verb):
            return False
        if before[verb] in {"sent", "taking", "takes"}:
            return False
        return True
    # A picture word standing (nearly) alone is a request: "selfie?? 🥺", "pic pls", "a pic from the cafe".
    if len(before) > 4 or not all(_alone_ok(w) for w in before):
        return False
    if after and after[0] in {"from", "at", "in", "with", "w", "on", "by", "while", "wearing", "of"}:
        return True
    return all(_alone_ok(w) for w in after[:8])


def _alone_ok(word: str) -> bool:
    return word in _ALONE_OK or not (word.isalnum() or "'" in word) or not word.isascii() or _is_picture_word([word], 0)


def request_kind(text: str) -> RequestKind:
    lowered = normalize(text)
    if _FULL_BODY.search(lowered):
        return "full_body"
    if _FACE.search(lowered):
        return "face"
    return "selfie"


def detect_selfie_request(text: str, extractor: OfflineSceneExtractor | None = None) -> SelfieRequest | None:
    """A `SelfieRequest` when the user's message asks the persona for a picture of itself, else None."""
    text = strip_prompt_syntax(text or "")  # "(((beach:1.5)))" still says beach; the syntax itself says nothing
    if not text.strip():
        return None
    parts = clauses(text)
    if not any(_clause_asks(clause) for clause in parts):
        return None
    scene = (extractor or OfflineSceneExtractor()).request_overrides(text)
    return SelfieRequest(kind=request_kind(text), scene=scene)


def persona_says_sending(text: str) -> bool:
    """Whether a persona reply says it is sending a picture right now ("here's a selfie 📸", "*sends a pic*")."""
    lowered = normalize(text)
    if not _SENDING.search(lowered):
        return False
    if re.search(r"\bhere(?:'s| is| are|s)? (?:a |my |me|one|the |some )", lowered) and not re.search(
        r"selfie|pic|photo|picture|📸|me\b|one\b|shot|snap", lowered
    ):
        return False  # "here's the thing" is not a picture
    return not _NOT_SENDING.search(lowered)
