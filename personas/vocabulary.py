"""The offline extractor's vocabulary: places, garments, activities, weather, times, moods and props.

Each `vocabulary/<category>.txt` line is `canonical | synonym, synonym | prompt phrase`. Matching is on token
sequences, longest first across all categories, so "gym clothes" is a garment and never the gym. Synonyms name the
same thing, never a different one; values the files do not know (the speaker's own words, an LLM's) still get a
prompt phrase, built around the known word they end in ("snowy mountain" -> "on a snowy mountain").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from personas.text import squash_repeats, tokenize

# Modifier kinds that say "this is clothing" when they stand before a word the vocabulary does not know.
GARMENT_MODIFIER_KINDS = frozenset({"material", "pattern", "fit"})

CATEGORIES = ("locations", "outfits", "accessories", "activities", "weather", "times", "moods", "props")
_DEFAULT_PHRASE = {
    "locations": "at the {}",
    "outfits": "{}",
    "accessories": "{}",
    "activities": "{}",
    "weather": "{} weather",
    "times": "{}",
    "moods": "{} expression",
    "props": "with a {}",
}


@dataclass(frozen=True)
class Entry:
    category: str
    canonical: str
    phrase: str


@dataclass(frozen=True)
class Span:
    entry: Entry
    start: int
    end: int  # exclusive token index


class Vocabulary:
    def __init__(
        self,
        entries: list[tuple[tuple[str, ...], Entry]],
        modifiers: frozenset[str],
        garment_modifiers: frozenset[str] = frozenset(),
    ) -> None:
        self.modifiers = modifiers  # every word kept in front of a garment or place
        self.garment_modifiers = garment_modifiers  # the subset that marks clothing (colours, materials, fits)
        self._by_first: dict[str, list[tuple[tuple[str, ...], Entry]]] = {}
        self._by_canonical: dict[tuple[str, str], Entry] = {}
        for tokens, entry in entries:
            self._by_first.setdefault(tokens[0], []).append((tokens, entry))
            self._by_canonical.setdefault((entry.category, entry.canonical), entry)
        for options in self._by_first.values():
            options.sort(key=lambda item: -len(item[0]))

    def __len__(self) -> int:
        return len(self._by_canonical)

    def entry(self, category: str, canonical: str) -> Entry | None:
        return self._by_canonical.get((category, canonical))

    def phrase(self, category: str, value: str) -> str:
        """The prompt words for a scene value. A value that ends in a known canonical ("snowy mountain") gets that
        entry's phrase with the extra words put in front of the known word ("on a snowy mountain"); anything else
        (the speaker's own words, the LLM's) gets the category's template ("at the skatepark")."""
        entry = self._by_canonical.get((category, value))
        if entry:
            return entry.phrase
        known = self._known_tail(category, value) if category == "locations" else None
        if known:
            extra, entry = known
            combined = _insert_before(entry.phrase, entry.canonical, extra)
            if combined:
                return combined
        return _DEFAULT_PHRASE[category].format(value)

    def _known_tail(self, category: str, value: str) -> tuple[list[str], Entry] | None:
        words = value.split()
        for start in range(1, len(words)):
            entry = self._by_canonical.get((category, " ".join(words[start:])))
            if entry:
                return words[:start], entry
        return None

    def find(self, tokens: list[str]) -> list[Span]:
        """Non-overlapping vocabulary matches, left to right, longest first."""
        words = [squash_repeats(token) for token in tokens]
        spans: list[Span] = []
        index = 0
        while index < len(words):
            match = self._match_at(words, index)
            if match:
                spans.append(match)
                index = match.end
            else:
                index += 1
        return spans

    def _match_at(self, words: list[str], index: int) -> Span | None:
        candidates = self._by_first.get(words[index]) or self._by_first.get(_singular(words[index])) or []
        for phrase, entry in candidates:
            end = index + len(phrase)
            if end <= len(words) and all(_same(words[index + k], phrase[k]) for k in range(len(phrase))):
                return Span(entry, index, end)
        return None


def _insert_before(phrase: str, canonical: str, extra: list[str]) -> str | None:
    """'on a mountain trail' + 'mountain' + ['snowy'] -> 'on a snowy mountain trail'; None if the phrase does not
    contain the canonical word. Words the phrase already has are not repeated; 'a'/'an' follow the new word."""
    words = phrase.split()
    head = canonical.split()[0]
    if head not in words:
        return None
    at = words.index(head)
    extra = [word for word in extra if word not in words]
    if not extra:
        return phrase
    if at and words[at - 1] in {"a", "an"}:
        words[at - 1] = "an" if extra[0][0] in "aeiou" else "a"
    return " ".join([*words[:at], *extra, *words[at:]])


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _same(word: str, wanted: str) -> bool:
    return word == wanted or _singular(word) == wanted


def _parse_line(category: str, line: str) -> list[tuple[tuple[str, ...], Entry]]:
    parts = [part.strip() for part in line.split("|")]
    canonical = parts[0]
    synonyms = [s.strip() for s in parts[1].split(",")] if len(parts) > 1 else []
    phrase = parts[2] if len(parts) > 2 and parts[2] else _DEFAULT_PHRASE[category].format(canonical)
    entry = Entry(category, canonical, phrase)
    found = []
    for synonym in dict.fromkeys([canonical, *synonyms]):
        tokens = tuple(tokenize(synonym))
        if tokens:
            found.append((tokens, entry))
    return found


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    """Read the vocabulary files shipped in the package (cached: it is immutable data)."""
    folder = resources.files("personas").joinpath("vocabulary")
    entries: list[tuple[tuple[str, ...], Entry]] = []
    for category in CATEGORIES:
        for line in folder.joinpath(f"{category}.txt").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                entries.extend(_parse_line(category, line))
    modifiers: dict[str, str] = {}  # word -> kind
    for line in folder.joinpath("modifiers.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, _, words = line.partition(":")
            for word in words.split(","):
                modifiers.setdefault(word.strip(), kind.strip())
    garment = frozenset(word for word, kind in modifiers.items() if kind in GARMENT_MODIFIER_KINDS)
    return Vocabulary(entries, frozenset(modifiers), garment)
