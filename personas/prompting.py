"""Turning a persona and a scene into the text the diffusion pipeline sees.

Order matters to CLIP (earlier tokens weigh more and only 75 fit): identity first, then the kind of shot, then
the scene, then style and quality words. When the budget is short the least important parts go first; the
identity is never dropped.

Two styles (`PromptStyle`): `natural` phrases ("on a sandy beach, wearing red sundress") for photographic
checkpoints, and `tags`, the comma-separated booru tags anime-family checkpoints are trained on ("1girl, solo,
silver hair, beach, smile"), ordered subject count, identity, shot, scene, quality, under the same budget.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

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


class PromptStyle(StrEnum):
    NATURAL = "natural"
    TAGS = "tags"


TAG_KIND_WORDS = {
    "selfie": "selfie, upper body, looking at viewer",
    "face": "portrait, close-up, looking at viewer",
    "full_body": "full body, standing",
}
TAG_QUALITY = "masterpiece, best quality"
TAG_NEGATIVE = "lowres, worst quality, low quality, bad anatomy, bad hands, extra digits, watermark, signature, text"
# Our closed scene vocabulary in the words booru tags use; anything else goes in as its canonical name.
_TAG_FOR = {
    "location": {"home": "indoors"},
    "mood": {
        "happy": "smile", "excited": "open mouth smile", "laughing": "laughing", "flirty": "wink",
        "confident": "smirk", "shy": "blush", "focused": "serious", "sweaty": "sweat",
    },
    "weather": {
        "rainy": "rain", "stormy": "storm", "snowy": "snow", "sunny": "sunlight", "cloudy": "cloudy sky",
        "foggy": "fog", "windy": "wind",
    },
}  # fmt: skip
_PEOPLE_PROPS = {"friends", "sister", "boyfriend", "girlfriend", "mom"}  # would contradict "solo"
_FEMALE_WORDS = {"woman", "women", "girl", "girls", "female", "lady", "1girl", "she", "her"}
_MALE_WORDS = {"man", "men", "boy", "boys", "male", "guy", "gentleman", "1boy", "he", "his"}
_SUBJECT_NOUNS = {"woman", "girl", "female", "lady", "man", "boy", "male", "guy", "gentleman", "person"}
_TAG_FILLERS = {"a", "an", "the", "her", "his", "their", "has", "have", "wearing", "in", "is", "are", "usually"}

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
    style: PromptStyle | str = PromptStyle.NATURAL,
) -> BuiltPrompt:
    """The prompt and negative prompt for one picture, within `budget` tokens of the text encoder."""
    if PromptStyle(style) is PromptStyle.TAGS:
        return _build_tag_prompt(persona, scene, kind, count_tokens or estimate_tokens, budget)
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


def appearance_tags(appearance: str) -> tuple[str, list[str]]:
    """The subject-count tag ("1girl", "1boy" or "") and the appearance as short tags: "a 25-year-old woman with
    long silver hair and green eyes, wearing a black jacket" -> "1girl", ["long silver hair", "green eyes",
    "black jacket"]. Age words become the tags boorus use ("old woman", "mature female") or go."""
    text = sanitize_chat_text(appearance, 400).lower()
    words = set(re.findall(r"[a-z0-9]+", text))
    female, male = bool(words & _FEMALE_WORDS), bool(words & _MALE_WORDS)
    count = "1girl" if female and not male else "1boy" if male and not female else ""
    tags: list[str] = []
    for piece in re.split(r"[,;.]|\band\b|\bwith\b", text):
        piece_words = [w for w in piece.split() if w not in ("1girl", "1boy", "solo")]
        while piece_words and piece_words[0] in _TAG_FILLERS:
            piece_words.pop(0)
        if piece_words and piece_words[-1] in _SUBJECT_NOUNS:
            noun, modifiers = piece_words[-1], piece_words[:-1]
            gender = "female" if noun in _FEMALE_WORDS else "male" if noun in _MALE_WORDS else ""
            if {"elderly", "old"} & set(modifiers) and gender:
                tags.append("old woman" if gender == "female" else "old man")
            elif {"middle-aged", "mature"} & set(modifiers) and gender:
                tags.append(f"mature {gender}")
            age_like = {"young", "elderly", "old", "middle-aged", "mature", "adult"}
            piece_words = [m for m in modifiers if m not in age_like and not re.match(r"\d+-year-old$", m)]
            tags.extend(piece_words)
            continue
        if piece_words:
            tags.append(" ".join(piece_words))
    return count, list(dict.fromkeys(t for t in tags if t))


def scene_tags(scene: SceneState) -> dict[str, str]:
    """Booru tags per scene field: canonical vocabulary names, moods and weather in the tags boorus use."""
    tags: dict[str, str] = {}

    def clean(value: str | None) -> str:
        return sanitize_chat_text(value or "", SCENE_TEXT_MAX).lower()

    for name, value in (("location", scene.location), ("activity", scene.activity), ("mood", scene.mood),
                        ("weather", scene.weather), ("time_of_day", scene.time_of_day)):  # fmt: skip
        if clean(value):
            tags[name] = _TAG_FOR.get(name, {}).get(clean(value), clean(value))
    if clean(scene.outfit):
        tags["outfit"] = ", ".join(item.strip() for item in clean(scene.outfit).split(",") if item.strip())
    props = [clean(p) for p in scene.props[:3] if clean(p) and clean(p) not in _PEOPLE_PROPS]
    if props:
        tags["props"] = ", ".join(props)
    return tags


def _build_tag_prompt(persona: Persona, scene: SceneState, kind: str, count: CountTokens, budget: int) -> BuiltPrompt:
    subject_count, identity_tags = appearance_tags(persona.appearance)
    identity = [t for t in (subject_count, "solo", clean_trigger_words(persona.lora_trigger), *identity_tags) if t]
    parts: dict[str, str] = {"kind": TAG_KIND_WORDS.get(kind, TAG_KIND_WORDS["selfie"])}
    parts.update(scene_tags(scene))
    style = sanitize_chat_text(persona.style, 200)
    if style:
        parts["style"] = style
    parts["quality"] = TAG_QUALITY
    order = ("kind", "location", "outfit", "activity", "props", "mood", "weather", "time_of_day", "style", "quality")

    def render() -> str:
        tags = [*identity, *(t.strip() for name in order if name in parts for t in parts[name].split(","))]
        return ", ".join(dict.fromkeys(t for t in tags if t))

    dropped: list[str] = []
    for name in DROP_ORDER:
        if count(render()) <= budget:
            break
        if name in parts:
            dropped.append(name)
            del parts[name]
    negative_parts = [SFW_NEGATIVE if not persona.nsfw else "", sanitize_chat_text(persona.negative, 400), TAG_NEGATIVE]
    negative = _fit(", ".join(p for p in negative_parts if p), count, budget)
    return BuiltPrompt(prompt=render(), negative_prompt=negative, dropped=dropped)


def _fit(text: str, count: CountTokens, budget: int) -> str:
    """Drop trailing comma-separated terms until `text` fits (the negative prompt shares the 77-token limit)."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    terms = list(dict.fromkeys(terms))
    while len(terms) > 1 and count(", ".join(terms)) > budget:
        terms.pop()
    return ", ".join(terms)
