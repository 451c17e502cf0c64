"""Turning a persona and a scene into the text the diffusion pipeline sees.

Order matters to CLIP (earlier tokens weigh more and only 75 fit): identity first, then the kind of shot, then
the scene, then style and quality words. When the budget is short the least important parts go first; the
identity is never dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field

from personas.models import Persona, SceneState
from personas.tokens import CLIP_CONTENT_TOKENS, estimate_tokens
from personas.vocabulary import Vocabulary, load_vocabulary

CountTokens = Callable[[str], int]

QUALITY_TERMS = "high quality, detailed, sharp focus"
DEFAULT_STYLE = "photorealistic smartphone photo, natural light"
BASE_NEGATIVE = "lowres, blurry, deformed, bad anatomy, extra fingers, watermark, text, multiple people"
SFW_NEGATIVE = "nsfw, nude, explicit"
KIND_WORDS = {
    "selfie": "selfie, upper body",
    "face": "close-up portrait, face in focus",
    "full_body": "full body shot",
}
FRAMING_FOR_KIND = {"selfie": "portrait", "face": "close-up", "full_body": "full body"}
# Dropped first to last when over budget.
DROP_ORDER = ("quality", "props", "time_of_day", "weather", "mood", "activity", "style", "outfit", "location")
SCENE_TEXT_MAX = 80

_WEIGHTING = re.compile(r"<[^<>]*>|[()\[\]{}]|:\s*-?\d+(?:\.\d+)?|\b(?:BREAK|AND)\b")
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


def strip_prompt_syntax(text: str) -> str:
    """Chat text without prompt-tool syntax (weighting "(word:1.4)", LoRA "<lora:x:1>", alternation "[a|b]",
    wildcards "__x__", "embedding:x", "BREAK") and without control, zero-width or bidi characters. Line breaks and
    sentence punctuation stay, because the intent and scene readers split clauses on them."""
    text = unicodedata.normalize("NFKC", text or "")
    text = _INVISIBLE.sub("", text)
    text = "".join(" " if unicodedata.category(ch).startswith("C") and ch != "\n" else ch for ch in text)
    text = _WEIGHTING.sub(" ", text)
    text = re.sub(r"\bembedding:", " ", text, flags=re.IGNORECASE)
    return re.sub(r"[|\\_:]+", " ", text)


def sanitize_chat_text(text: str, max_len: int = SCENE_TEXT_MAX) -> str:
    """Chat text made safe for a prompt: `strip_prompt_syntax`, no line breaks, at most `max_len` characters (cut
    at a word boundary)."""
    text = re.sub(r"\s+", " ", strip_prompt_syntax(text)).strip(" ,;:")
    if len(text) > max_len:
        cut = text[:max_len]
        text = cut.rsplit(" ", 1)[0] if " " in cut else cut
    return text.strip(" ,;:")


def clean_trigger_words(text: str, max_len: int = 60) -> str:
    """LoRA trigger words as the admin typed them: underscores and digits stay ("ohwx_woman", "mira_v2"), because
    the LoRA was trained on exactly that token; weighting, LoRA tags and invisible characters go."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text or ""))
    text = _WEIGHTING.sub(" ", text)
    text = re.sub(r"[^\w\s,\-]", " ", text)
    text = re.sub(r"\s+", " ", text).strip(" ,")
    return text[:max_len].strip(" ,")


@dataclass(frozen=True)
class BuiltPrompt:
    prompt: str
    negative_prompt: str
    dropped: list[str] = field(default_factory=list)


def _outfit_phrase(outfit: str, vocabulary: Vocabulary) -> str:
    items = []
    for item in (part.strip() for part in outfit.split(",")):
        words = item.split()
        for start in range(len(words)):
            tail = " ".join(words[start:])
            entry = vocabulary.entry("outfits", tail) or vocabulary.entry("accessories", tail)
            if entry:
                item = " ".join([*words[:start], entry.phrase])
                break
        if item:
            items.append(item)
    return "wearing " + ", ".join(items) if items else ""


def scene_parts(scene: SceneState, vocabulary: Vocabulary | None = None) -> dict[str, str]:
    """Prompt phrases per scene field, sanitized (scene values may come from an LLM or old rows)."""
    vocabulary = vocabulary or load_vocabulary()
    parts: dict[str, str] = {}

    def clean(value: str | None) -> str:
        return sanitize_chat_text(value or "", SCENE_TEXT_MAX)

    if clean(scene.location):
        parts["location"] = clean(vocabulary.phrase("locations", clean(scene.location)))
    if clean(scene.outfit):
        parts["outfit"] = clean(_outfit_phrase(clean(scene.outfit), vocabulary))
    if clean(scene.activity):
        parts["activity"] = clean(vocabulary.phrase("activities", clean(scene.activity)))
    if clean(scene.mood):
        parts["mood"] = clean(vocabulary.phrase("moods", clean(scene.mood)))
    if clean(scene.weather):
        parts["weather"] = clean(vocabulary.phrase("weather", clean(scene.weather)))
    if clean(scene.time_of_day):
        parts["time_of_day"] = clean(vocabulary.phrase("times", clean(scene.time_of_day)))
    props = [clean(vocabulary.phrase("props", clean(p))) for p in scene.props[:3] if clean(p)]
    if props:
        parts["props"] = ", ".join(props)
    return parts


def describe_scene(scene: SceneState) -> str:
    """Short human text for captions and the "sent a selfie: ..." memory line."""
    parts = scene_parts(scene)
    order = ("location", "outfit", "activity", "props", "mood", "weather", "time_of_day")
    text = ", ".join(parts[name] for name in order if name in parts)
    return text or "a casual selfie"


def build_prompt(
    persona: Persona,
    scene: SceneState,
    kind: str = "selfie",
    count_tokens: CountTokens | None = None,
    budget: int = CLIP_CONTENT_TOKENS,
) -> BuiltPrompt:
    """The prompt and negative prompt for one picture, within `budget` tokens of the text encoder."""
    count = count_tokens or estimate_tokens
    identity = ", ".join(
        p for p in (clean_trigger_words(persona.lora_trigger), sanitize_chat_text(persona.appearance, 400)) if p
    )
    parts: dict[str, str] = {"kind": KIND_WORDS.get(kind, KIND_WORDS["selfie"])}
    parts.update(scene_parts(scene))
    parts["style"] = sanitize_chat_text(persona.style, 200) or DEFAULT_STYLE
    parts["quality"] = QUALITY_TERMS
    order = ("kind", "location", "outfit", "activity", "props", "mood", "weather", "time_of_day", "style", "quality")

    def render() -> str:
        return ", ".join([identity, *(parts[name] for name in order if name in parts)])

    dropped: list[str] = []
    for name in DROP_ORDER:
        if count(render()) <= budget:
            break
        if name in parts:
            dropped.append(name)
            del parts[name]
    # The SFW terms go first so trimming to the budget can never remove them.
    negative_parts = [
        SFW_NEGATIVE if not persona.nsfw else "",
        sanitize_chat_text(persona.negative, 400),
        BASE_NEGATIVE,
    ]
    negative = _fit(", ".join(p for p in negative_parts if p), count, budget)
    return BuiltPrompt(prompt=render(), negative_prompt=negative, dropped=dropped)


def _fit(text: str, count: CountTokens, budget: int) -> str:
    """Drop trailing comma-separated terms until `text` fits (the negative prompt shares the 77-token limit)."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    terms = list(dict.fromkeys(terms))
    while len(terms) > 1 and count(", ".join(terms)) > budget:
        terms.pop()
    return ", ".join(terms)
