"""Chat text as the rule-based readers see it: normalised tokens, split into clauses."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")
# A word (letters/digits with inner apostrophes) or any single non-space symbol (punctuation, an emoji).
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]")
# Where one statement ends and another starts: sentence ends, commas, and joints like "but"/"now"/"jk".
_CLAUSE_BREAK = re.compile(
    r"([.!?;\n]+|,|\s(?:but|jk|j/k|though|although|then|anyway|lol|lmao|haha)\s|\s(?=now\b)|\s(?=right now\b))"
)
_REPEATS = re.compile(r"([a-z])\1{2,}")


def normalize(text: str) -> str:
    """Lowercase, NFKC, straight apostrophes, no emoji variation selectors, no zero-width characters."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = re.sub("[\ufe0e\ufe0f\u200b-\u200d\u2060\ufeff]", "", text)
    return _SPACES.sub(" ", text).strip()


def squash_repeats(word: str) -> str:
    """'selfieee' -> 'selfie', 'sooo' -> 'so': chat stretches letters for emphasis."""
    return _REPEATS.sub(r"\1", word)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


@dataclass(frozen=True)
class Clause:
    tokens: list[str]
    question: bool  # ended with '?'


def clauses(text: str) -> list[Clause]:
    """Split a message into clauses; each keeps whether it was a question."""
    parts = _CLAUSE_BREAK.split(normalize(text))
    found: list[Clause] = []
    for index in range(0, len(parts), 2):
        tokens = tokenize(parts[index])
        delimiter = parts[index + 1] if index + 1 < len(parts) else ""
        if tokens:
            found.append(Clause(tokens, "?" in delimiter))
    return found
