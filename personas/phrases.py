"""Noun phrases in chat: the words around a place or garment, kept in the speaker's own words.

The vocabulary knows a few hundred places and garments; chat names thousands ("the skatepark", "my chef's apron",
"a lilac bridesmaid dress"). This module finds the noun phrase a trigger word introduces ("at the", "wearing")
or a known word heads, and turns it into a short, clean scene value: the speaker's words, never a different
thing. Kept values are letters, digits, spaces, hyphens and apostrophes, at most `MAX_WORDS` words and
`MAX_CHARS` characters, because they end up in image prompts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from personas.vocabulary import Span, Vocabulary

MAX_WORDS = 4
MAX_CHARS = 40

DETERMINERS = frozenset(
    {"the", "a", "an", "this", "that", "these", "those", "my", "our", "your", "ur", "his", "her", "their", "some"}
)
# Words that can never be part of a noun phrase: prepositions, conjunctions, pronouns, auxiliaries, adverbs, chat
# particles and forms of address. Everything else (an unknown word) may be an adjective or a noun.
BOUNDARIES = frozenset(
    {
        # prepositions
        "at", "in", "on", "to", "for", "of", "with", "w", "by", "from", "near", "about", "like", "after", "before",
        "during", "until", "till", "til", "since", "into", "onto", "under", "over", "around", "through", "across",
        "behind", "beside", "inside", "outside", "along", "up", "down", "off", "out", "without", "than", "via",
        # conjunctions and question words
        "and", "or", "but", "while", "because", "cause", "cuz", "coz", "bc", "so", "as", "when", "where", "which",
        "who", "that", "if", "though", "tho", "although", "whilst", "nor", "then", "how", "what", "why",
        # pronouns
        "i", "i'm", "im", "i've", "i'll", "i'd", "me", "you", "you're", "u", "he", "she", "it", "it's", "its", "we",
        "we're", "they", "they're", "him", "them", "us", "there", "there's", "here", "here's", "myself", "yourself",
        # auxiliaries and common verbs
        "is", "are", "am", "was", "were", "be", "been", "being", "have", "has", "had", "do", "does", "did", "can",
        "could", "will", "would", "should", "might", "must", "get", "got", "gotta", "gonna", "wanna", "go", "went",
        "come", "came", "let", "let's", "feel", "feels", "look", "looks", "see", "think", "know", "love", "hate",
        # adverbs and time words
        "now", "rn", "atm", "today", "tonight", "tn", "tomorrow", "yesterday", "already", "still", "again", "too",
        "also", "just", "really", "very", "soo", "sooo", "super", "finally", "currently", "yet", "alone",
        "together", "early", "late", "right", "all", "anymore", "ever", "never", "not", "no",
        "yes", "yeah", "ok", "okay", "pretty", "kinda", "literally", "actually", "basically", "totally", "af",
        "asf", "either", "instead", "anyway", "btw", "ngl", "tbh", "fr", "imo", "rly", "ofc",
        # chat particles and forms of address
        "lol", "lmao", "lmfao", "haha", "hahaha", "hehe", "xd", "omg", "omfg", "ugh", "yay", "wow", "oof", "rip",
        "pls", "plz", "please", "thx", "ty", "xoxo", "babe", "baby", "hun", "honey", "dear", "darling",
        "bro", "dude", "sis", "girl", "guys", "y'all",
    }
)  # fmt: skip
# Heads that follow "at the"/"in the"/"on my" in chat without being places ("at the moment", "on my way").
NON_PLACES = frozenset(
    {
        "moment", "mood", "way", "time", "times", "end", "start", "beginning", "middle", "meantime", "meanwhile",
        "same", "mirror", "picture", "pic", "pics", "photo", "photos", "selfie", "background", "chat", "group",
        "vc", "call", "dm", "dms", "internet", "list", "process", "relationship", "hurry", "rush", "bit", "sec",
        "second", "minute", "minutes", "hour", "hours", "day", "days", "week", "weekend", "month", "year", "zone",
        "dark", "light", "sun", "shade", "stars", "sky", "moon", "air", "world", "universe", "mix", "loop", "news",
        "lead", "fact", "case", "future", "past", "present", "mind", "head", "heart", "life", "dream",
        "dreams", "feelings", "feels", "element", "opinion", "arms", "hand", "hands", "lap", "side", "place",
        "least", "most", "best", "worst", "first", "last", "latest", "point", "rate", "glance", "date", "diet",
        "roll", "break", "mend", "hunt", "go", "mission", "budget", "clock", "fence", "team", "radio", "tv",
        "screen", "video", "game", "match", "mail", "post", "story", "stories", "meeting", "queue", "line", "run",
        "loss", "wrong", "right", "one", "ones", "thing", "things", "stuff", "lot", "lots", "bunch", "lil",
        "vibe", "vibes", "spirit", "spotlight", "limelight", "making", "works", "weather", "rain",
        "snow", "cold", "heat", "wind", "fog", "storm", "distance", "open", "back", "front", "top", "bottom",
        "edge", "corner", "inside", "outside", "rest", "other", "next", "trouble", "love", "pain", "music",
        "movie", "song", "playlist", "podcast", "episode", "series", "project", "task", "job", "shift",
    }
)  # fmt: skip
# Heads that never name a garment after "wearing" ("wearing nothing", "wearing me out", "the red one").
NON_GARMENTS = frozenset(
    {
        "nothing", "anything", "something", "everything", "it", "that", "this", "them", "those", "these", "one",
        "ones", "same", "thing", "things", "stuff", "what", "thin", "off", "out", "down", "me", "myself", "lot",
        "heart", "smile", "makeup", "perfume", "hat-trick",
    }
)  # fmt: skip
# "the top of the mountain", "the deck of the ship": the place is the one after "of".
PARTS = frozenset(
    {
        "top", "edge", "side", "middle", "back", "front", "bottom", "end", "corner", "foot", "deck", "roof", "hood",
        "steps", "shore", "bank", "banks", "base", "entrance", "door", "doors", "window", "outskirts", "center",
        "centre", "heart", "tip", "peak", "summit", "inside", "outside", "far", "rest", "other",
    }
)  # fmt: skip
# Words that tell nothing about a picture: dropped from kept phrases ("my new red dress" -> "red dress").
_UNVISUAL = frozenset(
    {
        "new", "local", "favorite", "favourite", "fav", "fave", "usual", "own", "whole", "entire", "literally",
        "oldest", "newest", "only", "same", "random", "little", "lil", "other", "first", "second", "last", "next",
        "actual", "real", "regular", "typical", "weird", "fucking", "freaking", "damn",
    }
)  # fmt: skip
_WORD = re.compile(r"^[^\W_]+(?:'[^\W_]+)*$")
_CONTINUE_CATEGORIES = {"locations", "outfits", "accessories"}


@dataclass(frozen=True)
class NounPhrase:
    start: int  # first token index (after any determiner)
    end: int  # exclusive
    words: list[str]  # kept words, possessors and unvisual words removed
    head: Span | None  # the known place or garment the phrase ends in, if any


def is_word(token: str) -> bool:
    return bool(_WORD.match(token)) and token not in BOUNDARIES and token not in DETERMINERS


def verb_like(token: str) -> bool:
    """'grooming', 'tanned': after a noun they start a new phrase ("at the barn grooming my horse")."""
    return len(token) > 4 and (token.endswith("ing") or token.endswith("ed"))


def spans_by_start(spans: list[Span]) -> dict[int, Span]:
    return {span.start: span for span in spans}


def phrase_after(tokens: list[str], start: int, spans: dict[int, Span], limit: int = MAX_WORDS) -> NounPhrase | None:
    """The noun phrase that starts at `start` (a determiner there is skipped), or None when there is none or it
    runs longer than a noun phrase does. Known places and garments may head it or modify a later word ("bus
    shelter"); other known words (an activity, a mood, the weather) only modify ("waiting room", "snowy cabin")."""
    index = start + 1 if start < len(tokens) and tokens[start] in DETERMINERS else start
    first = index
    words: list[tuple[int, int]] = []  # (start, end) per word or known span
    while index < len(tokens):
        span = spans.get(index)
        token = tokens[index]
        if span:
            after = span.end
            continues = after < len(tokens) and (is_word(tokens[after]) or after in spans)
            if span.entry.category not in _CONTINUE_CATEGORIES and not continues:
                break  # "in the rain", "at the park watching": an activity or weather word ends the phrase
            if words and span.entry.category not in _CONTINUE_CATEGORIES and span.entry.category != "weather":
                break
            words.append((index, after))
            index = after
            continue
        if token == "-" and words and index + 1 < len(tokens) and is_word(tokens[index + 1]):
            words[-1] = (words[-1][0], index + 2)  # "one-piece", "polka-dot"
            index += 2
            continue
        if not is_word(token):
            break
        if words and verb_like(token):
            following = tokens[index + 1] if index + 1 < len(tokens) else ""
            if not is_word(following) or verb_like(following) or following in spans:
                break  # "the ice skating rink" goes on; "the barn grooming my horse" does not
        words.append((index, index + 1))
        index += 1
    if not words or len(words) > limit:
        return None
    end = words[-1][1]
    last = spans.get(words[-1][0])
    head = last if last and last.end == end and last.entry.category in _CONTINUE_CATEGORIES else None
    kept = _kept_words(tokens, words)
    return NounPhrase(first, end, kept, head) if kept else None


def phrase_before(
    tokens: list[str], head: Span, spans: list[Span], vocabulary: Vocabulary, *, stop: frozenset[str] | set[str]
) -> NounPhrase:
    """The noun phrase a known word heads, found by walking back over modifiers, unknown words and known nouns used
    as modifiers ("lilac bridesmaid dress", "hiking boots", "snowy mountain") to a determiner or a `stop` word
    (the trigger: "wearing", "at")."""
    ends = {span.end: span for span in spans}
    words: list[tuple[int, int]] = [(head.start, head.end)]
    index = head.start
    while index > 0 and len(words) < 2 * MAX_WORDS:  # long phrases: find their start, keep the words near the head
        span = ends.get(index)
        slot = bool(span) and span.start > 0 and tokens[span.start - 1] in DETERMINERS | stop | vocabulary.modifiers
        if span and span.entry.category in {"weather", "locations", "outfits", "accessories"}:
            words.insert(0, (span.start, span.end))
            index = span.start
            continue
        if span and span.entry.category == "activities" and slot:
            words.insert(0, (span.start, span.end))  # "my hiking boots", not "driving home"
            index = span.start
            continue
        token = tokens[index - 1]
        if token == "-" and index >= 2 and is_word(tokens[index - 2]):
            words[0] = (index - 2, words[0][1])
            index -= 2
            continue
        if token in stop or (not is_word(token) and token not in vocabulary.modifiers):
            break
        if token.endswith("ing") and len(token) > 4 and token not in vocabulary.modifiers:
            before = tokens[index - 2] if index >= 2 else ""
            if before not in DETERMINERS and before not in stop and before not in vocabulary.modifiers:
                break  # "my riding boots", "a long winding trail"; not "grooming boots'
        words.insert(0, (index - 1, index))
        index -= 1
    start = words[0][0]
    words = words[-MAX_WORDS:]
    kept = _kept_words(tokens, words)
    return NounPhrase(start, head.end, kept or [tokens[head.start]], head)


def _kept_words(tokens: list[str], words: list[tuple[int, int]]) -> list[str]:
    texts = [" ".join(tokens[a:b]).replace(" - ", "-") for a, b in words]
    for at in range(len(texts) - 1, -1, -1):
        if texts[at].endswith("'s") or texts[at].endswith("s'"):
            texts = texts[at + 1 :]  # "my cousin's wedding" -> "wedding": the possessor is not in the picture
            break
    return [text for text in texts if text not in _UNVISUAL]


def kept_phrase(words: list[str]) -> str:
    """A scene value in the speaker's words: letters, digits, spaces, hyphens, apostrophes; short."""
    text = " ".join(words)
    text = re.sub(r"[^\w\s'\-&]|_", " ", text)
    text = re.sub(r"\s*-\s*", "-", text)
    kept = text.split()[-MAX_WORDS:]  # the words nearest the head noun matter most
    while kept and len(" ".join(kept)) > MAX_CHARS:
        kept = kept[1:]
    return " ".join(kept).strip(" -'")


def garment_evidence(words: list[str], vocabulary: Vocabulary) -> bool:
    """A colour, material, pattern or fit word: "in my white skates" is worn, "in my van" is not."""
    pieces = {piece for word in words for piece in [word, *word.split("-")]}
    return bool(pieces & vocabulary.garment_modifiers)
