"""Offline extraction of what a character looks like from a card's free-text description.

Cards describe looks in prose ("silver hair falls past her shoulders"), in W++ (`Hair("silver" + "long")`), in
PLists (`[Mira; hair: silver; eyes: green]`) and in "Key: value" lists. The rules here are grammatical, not phrase
lists: a trait is a head noun (hair, eyes, skin, build, a garment from the shared vocabulary...) with the
describing words right before it or after a copula ("her hair is long and silver"); sections named for personality,
likes or backstory are skipped; height and age come from numbers. What comes out is a short comma list for the
prompt builder; anything unsure is left out rather than guessed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from personas.cards import trait_words as lex
from personas.vocabulary import load_vocabulary

_TOKEN = re.compile(r"[a-z0-9]+(?:['\-][a-z0-9]+)*|[^\sa-z0-9]")
_WPP_GROUP = re.compile(r"([a-z][a-z ]{0,30}?)\s*\(([^()]*\"[^()]*)\)")
_SEGMENT_BREAK = re.compile(r"[!?;\n\[\]{}|]|(?<!\d)\.(?!\d)")
_KEY_VALUE = re.compile(r"^\s*[-•>]?\s*([a-z][a-z '/&-]{0,30}?)\s*[:=]\s*(.*)$")
_AGE_NUMBER = (
    re.compile(r"\b(\d{1,3})[\s-]*(?:years?|yrs?)[\s-]*old\b"),
    re.compile(r"\baged?\s*[:=(]?\s*(\d{1,3})\b"),
    re.compile(r"\b(\d{1,2})\s*(?:yo|y/o|y\.o)\b"),
)
_AGE_DECADE = re.compile(r"\bin\s+(?:her|his|their)\s+(early|mid|late)?[\s-]*(teens|[a-z]+ties|\d0s)\b")
_DECADE_ALONE = re.compile(r"^\s*(?:early |mid |late )?(\d)0'?s\s*$")
_HEIGHT_FEET = re.compile(r"\b([4-7])\s*(?:'|ft\.?|feet|foot)\s*(\d{1,2})?(?![\d])")
_HEIGHT_CM = re.compile(r"\b(1\d{2}|2[0-4]\d)\s*cm\b")
_HEIGHT_M = re.compile(r"\b([12][.,]\d{1,2})\s*m\b")
MAX_MODIFIERS = 4
TEXT_MAX = 20_000


@dataclass(frozen=True)
class AppearanceTraits:
    """Physical traits found in a description; `apparent_minor` flags a stated age under 18 or child words, for
    the bot's safety policy to act on."""

    gender: str = ""  # "female", "male" or ""
    age: int | None = None
    age_phrase: str = ""  # "25-year-old", "in her mid forties", "elderly"
    species: tuple[str, ...] = ()
    body: tuple[str, ...] = ()
    hair: tuple[str, ...] = ()
    eyes: tuple[str, ...] = ()
    skin: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    clothing: tuple[str, ...] = ()
    apparent_minor: bool = False

    @property
    def subject(self) -> str:
        """ "25-year-old woman", "woman in her forties", "elderly man", "woman", or "" when nothing says."""
        noun = {"female": "woman", "male": "man"}.get(self.gender, "person" if self.age_phrase else "")
        if not noun:
            return ""
        if self.age_phrase.startswith("in "):
            return f"{noun} {self.age_phrase}"
        return f"{self.age_phrase} {noun}".strip()

    def phrases(self) -> list[str]:
        """Most identifying first: who, body, hair, eyes, skin, other features, then clothing."""
        clothing = ["wearing " + " and ".join(self.clothing[:3])] if self.clothing else []
        parts = [self.subject, *self.species, *self.body, *self.hair, *self.eyes, *self.skin, *self.features]
        return _unique([p for p in parts if p]) + clothing

    def to_text(self, max_len: int) -> str:
        """The comma list within `max_len` characters; the least identifying phrases go first."""
        phrases = self.phrases()
        while phrases and len(", ".join(phrases)) > max_len:
            phrases.pop()
        return ", ".join(phrases)

    def is_empty(self) -> bool:
        return not self.phrases()


@dataclass
class _Found:
    gender_votes: dict[str, int] = field(default_factory=lambda: {"female": 0, "male": 0})
    age: int | None = None
    age_phrase: str = ""
    young: bool = False
    minor: bool = False
    species: list[str] = field(default_factory=list)
    body: list[str] = field(default_factory=list)
    hair: list[str] = field(default_factory=list)
    eyes: list[str] = field(default_factory=list)
    skin: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    clothing: list[str] = field(default_factory=list)


@lru_cache(maxsize=1)
def _heads() -> dict[tuple[str, ...], str]:
    """Head noun (as a token tuple) -> trait category. Garments are found with the shared scene vocabulary."""
    heads: dict[tuple[str, ...], str] = {(word,): "garment" for word in lex.EXTRA_GARMENTS}
    groups = (
        ("hair", lex.HAIR), ("hairstyle", lex.HAIRSTYLES), ("eyes", lex.EYES), ("skin", lex.SKIN), ("face", lex.FACE),
        ("body", lex.BODY), ("mark", lex.MARKS),
    )  # fmt: skip
    for category, words in groups:
        for word in words:
            heads[word if isinstance(word, tuple) else (word,)] = category
    return heads


def _garment_spans(tokens: list[str]) -> dict[int, int]:
    """Start -> end token of each garment the scene vocabulary knows ("leather jacket", "t-shirt"). The
    vocabulary splits hyphens off, so spans are mapped back to our tokens and kept only where they align."""
    pieces: list[str] = []
    owner: list[int] = []
    first_piece: set[int] = set()
    last_piece: set[int] = set()
    for index, token in enumerate(tokens):
        parts = [part for part in re.split(r"(-)", token) if part]
        first_piece.add(len(pieces))
        pieces.extend(parts)
        owner.extend([index] * len(parts))
        last_piece.add(len(pieces) - 1)
    spans = {}
    for span in load_vocabulary().find(pieces):
        if (
            span.entry.category in ("outfits", "accessories")
            and span.start in first_piece
            and span.end - 1 in last_piece
        ):
            spans[owner[span.start]] = owner[span.end - 1] + 1
    return spans


def _unique(items: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and not any(item == other or item in other.split(", ") for other in seen):
            seen.append(item)
    return seen


def _normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[*_#~`]+", " ", text)
    # W++: Hair("silver" + "long") -> a "hair: silver, long" line.
    text = _WPP_GROUP.sub(lambda m: "\n" + m.group(1) + ": " + m.group(2).replace("+", ",") + "\n", text)
    return text


def extract_appearance(text: str, *, max_chars: int = TEXT_MAX) -> AppearanceTraits:
    """The physical traits in `text` (a card's description, macros already resolved). Only the first `max_chars`
    are read: looks are described early, and the rules are linear but not free on megabyte lorebook dumps."""
    text = _normalise((text or "")[:max_chars])
    found = _Found()
    _numbers(text, found)
    for segment in _SEGMENT_BREAK.split(text):
        match = _KEY_VALUE.match(segment)
        if match and len(match.group(1).split()) <= 3:
            _keyed(match.group(1).strip(), match.group(2), found)
        else:
            _free_text(segment, found)
    return _finish(found)


def _numbers(text: str, found: _Found) -> None:
    for pattern in _AGE_NUMBER:
        match = pattern.search(text)
        if match and found.age is None and 0 < int(match.group(1)) < 150:
            found.age = int(match.group(1))
    decade = _AGE_DECADE.search(text)
    if decade and found.age is None:
        found.age_phrase = f"in {{pronoun}} {decade.group(1) or ''} {decade.group(2)}".replace("  ", " ")
        found.minor = found.minor or decade.group(2) == "teens"
    height_cm = None
    if match := _HEIGHT_CM.search(text):
        height_cm = int(match.group(1))
    elif match := _HEIGHT_M.search(text):
        height_cm = round(float(match.group(1).replace(",", ".")) * 100)
    elif match := _HEIGHT_FEET.search(text):
        height_cm = round(int(match.group(1)) * 30.48 + int(match.group(2) or 0) * 2.54)
    if height_cm:
        found.body.append("tall" if height_cm >= 178 else "short" if height_cm <= 160 else "")


def _items(value: str) -> list[str]:
    return [item.strip(" \"'-.") for item in re.split(r",|\+|/|\band\b", value) if item.strip(" \"'-.")]


def _keyed(key: str, value: str, found: _Found) -> None:
    words = set(re.split(r"[\s/&'-]+", key.replace("'s", "")))
    if words & {"personality", "likes", "dislikes"} or (words & lex.SKIP_KEYS and not words & lex.LOOK_KEYS):
        return
    items = _items(value)
    if words & {"hair", "eyes", "eye", "skin"}:
        head = "hair" if "hair" in words else "skin" if "skin" in words else "eyes"
        plain = []
        for item in (part.strip() for i in items for part in re.split(r"\bwith\b", i) if part.strip()):
            if any(tokens in _heads() for tokens in _ngrams(_TOKEN.findall(item))):
                _free_text(item, found)
            else:
                plain.extend(item.split())
        if plain:
            getattr(found, head if head != "eyes" else "eyes").append(" ".join(plain[:5]) + f" {head}")
    elif words & {"height"}:
        for item in items:
            if item in lex.BUILD:
                found.body.append(item)
    elif words & ({"body", "build", "figure", "physique"} | lex.LOOK_KEYS) and not (
        words & {"body"} and any(len(i.split()) > 4 for i in items)
    ):
        if words & lex.LOOK_KEYS:
            _free_text(value, found)
        else:
            found.body.extend(i for i in items if len(i.split()) <= 3)
    elif words & {"age"}:
        decade = _DECADE_ALONE.match(value)
        if decade:
            found.age_phrase = f"in {{pronoun}} {decade.group(1)}0s"
        elif items and found.age is None and items[0].isdigit():
            found.age = int(items[0])
    elif words & {"gender", "sex"}:
        for item in items:
            gender = lex.SUBJECTS.get(item.split()[0] if item else "")
            if gender:
                found.gender_votes[gender] += 10
    elif words & {"species", "race"}:
        found.species.extend(i for i in items if i != "human" and len(i.split()) <= 3)
    elif words & {"features", "marks", "feature", "accessories"}:
        found.features.extend(" ".join(i.split()[:5]) for i in items)
    elif words & {"outfit", "clothes", "clothing", "attire", "style", "wears", "wardrobe", "dress", "outfits"}:
        for item in items:
            found.clothing.extend(" ".join(part.split()[:5]) for part in re.split(r"\b(?:with|over|under)\b", item))
    else:
        _free_text(value, found)


def _ngrams(tokens: list[str]) -> Iterable[tuple[str, ...]]:
    for size in (2, 1):
        for start in range(len(tokens) - size + 1):
            yield tuple(tokens[start : start + size])


def _free_text(segment: str, found: _Found) -> None:
    tokens = _TOKEN.findall(segment)
    if _DECADE_ALONE.match(segment):
        found.age_phrase = f"in {{pronoun}} {_DECADE_ALONE.match(segment).group(1)}0s"
        return
    heads = _heads()
    garment_spans = _garment_spans(tokens)
    used: set[int] = set()
    index = 0
    while index < len(tokens):
        span = next((size for size in (2, 1) if tuple(tokens[index : index + size]) in heads), 0)
        category = heads.get(tuple(tokens[index : index + span]), "")
        if index in garment_spans and garment_spans[index] - index >= span:
            span, category = garment_spans[index] - index, "garment"
        used_as_adjective = (
            span == 1
            and category in ("mark", "hairstyle")
            and index + 1 < len(tokens)
            and _is_modifier(tokens[index + 1], heads)
        )
        if (
            not span
            or used_as_adjective
            or (tokens[index] in {"dress", "dresses"} and tokens[index + 1 : index + 2] in (["in"], ["up"]))
        ):
            index += 1
            continue
        head = tuple(tokens[index : index + span])
        before = _modifiers_before(tokens, index, heads)
        after = _modifiers_after(tokens, index + span, heads) if category in lex.NEEDS_MODIFIER else []
        words = [*before, *after]
        used.update(range(index - len(before), index + span))
        index += span
        if category in lex.NEEDS_MODIFIER and not words:
            continue
        if category == "body" and head[0] in {"arms", "legs", "shoulders"} and not words:
            continue
        if category == "garment" and not _worn(tokens, index - span):
            continue
        phrase = " ".join([*words, *head])
        target = {
            "hair": found.hair, "hairstyle": found.hair, "eyes": found.eyes, "skin": found.skin, "face": found.features,
            "body": found.body, "mark": found.features, "garment": found.clothing,
        }[category]  # fmt: skip
        target.append(phrase)
    for position, token in enumerate(tokens):
        following = tokens[position + 1] if position + 1 < len(tokens) else "."
        previous = tokens[position - 1] if position else ""
        if token in lex.PRONOUNS:
            found.gender_votes[lex.PRONOUNS[token]] += 1
        if token in lex.SUBJECTS and previous not in {"a", "an", "the"} | lex.PRONOUNS.keys() | {"'s"}:
            found.gender_votes[lex.SUBJECTS[token]] += 2
            found.young = found.young or token in {"girl", "boy"}
        elif token in lex.SUBJECTS:
            found.gender_votes[lex.SUBJECTS[token]] += 3
            found.young = found.young or token in {"girl", "boy"} or previous == "young"
        if token in lex.MINOR_WORDS:
            found.minor = True
        if position in used:
            continue
        if token in lex.SPECIES and following not in {"'s"}:
            found.species.append(token)
        elif (token in lex.SKIN_WORDS or token.endswith("-skinned")) and (
            following in lex.BOUNDARY or previous in lex.COPULAS
        ):
            found.skin.append(token)
        elif token in lex.BUILD and (
            following[0].isdigit() or following in lex.BOUNDARY or following in lex.SUBJECTS or previous in lex.COPULAS
        ):
            found.body.append(token)
        elif token in {"elderly", "middle-aged"} and not found.age_phrase:
            found.age_phrase = token


def _worn(tokens: list[str], index: int) -> bool:
    """False when the nearest verb before a garment is one of liking or making ("she hates dresses"), not one of
    wearing ("likes knitting and wears sweaters")."""
    for token in reversed(tokens[:index]):
        if token in lex.WEAR_VERBS:
            return True
        if token in lex.NOT_WORN_VERBS:
            return False
    return True


def _is_modifier(token: str, heads: dict[tuple[str, ...], str]) -> bool:
    return (
        token[0].isalpha()
        and "'" not in token
        and token not in lex.FUNCTION_WORDS
        and heads.get((token,), "mark") in ("mark", "hairstyle")  # "piercing green eyes", "buzzcut white hair"
        and token not in lex.SUBJECTS
        and token not in lex.PRONOUNS
    )


def _modifiers_before(tokens: list[str], index: int, heads: dict[tuple[str, ...], str]) -> list[str]:
    words: list[str] = []
    position = index - 1
    while position >= 0 and len(words) < MAX_MODIFIERS:
        token = tokens[position]
        if (
            token == ","
            and words
            and position > 0
            and _is_modifier(tokens[position - 1], heads)
            and (tokens[position - 1],) not in heads
        ):
            position -= 1
            continue
        if not _is_modifier(token, heads):
            break
        words.insert(0, token)
        position -= 1
    return words


def _modifiers_after(tokens: list[str], index: int, heads: dict[tuple[str, ...], str]) -> list[str]:
    """Words after a copula: "hair is long and silver" -> long, silver. A participle followed by a preposition
    ("is tied with a ribbon") is a verb, not a description."""
    if index >= len(tokens) or tokens[index] not in lex.COPULAS:
        return []
    position = index + 1
    while position < len(tokens) and tokens[position] in {"a", "an", "the"}:
        position += 1
    words: list[str] = []
    while position < len(tokens) and len(words) < MAX_MODIFIERS:
        token = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else "."
        if token in {"and", ","} and words:
            after_next = tokens[position + 2] if position + 2 < len(tokens) else "."
            if position + 1 < len(tokens) and _is_modifier(following, heads) and not after_next[0].isalpha():
                position += 1
                continue
            if position + 1 < len(tokens) and _is_modifier(following, heads) and after_next in lex.BOUNDARY:
                position += 1
                continue
            break
        if not _is_modifier(token, heads) or (token.endswith("ed") and following in lex.PREPOSITIONS):
            break
        words.append(token)
        position += 1
    return words


def _finish(found: _Found) -> AppearanceTraits:
    votes = found.gender_votes
    gender = "female" if votes["female"] > votes["male"] else "male" if votes["male"] > votes["female"] else ""
    pronoun = {"female": "her", "male": "his"}.get(gender, "their")
    if found.age is not None:
        age_phrase = f"{found.age}-year-old"
        minor = found.minor or found.age < 18
    else:
        age_phrase = found.age_phrase.replace("{pronoun}", pronoun) or ("young" if found.young else "")
        minor = found.minor
    return AppearanceTraits(
        gender=gender,
        age=found.age,
        age_phrase=" ".join(age_phrase.split()),
        species=tuple(_unique(found.species))[:2],
        body=tuple(_unique(b for b in found.body if b))[:3],
        hair=tuple(_unique(found.hair))[:3],
        eyes=tuple(_unique(found.eyes))[:1],
        skin=tuple(_unique(found.skin))[:1],
        features=tuple(_unique(found.features))[:4],
        clothing=tuple(_unique(found.clothing))[:3],
        apparent_minor=minor,
    )
