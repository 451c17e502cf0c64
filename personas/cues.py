"""Rules that read scene cues out of one clause: who it is about, when, negated or not, and what it names.

A clause yields `ClauseCues`: values to set per field, values to clear ("not at the beach anymore", "left the
park", "took off the blazer"), and whether a location change should make the old activity and props stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from personas.text import Clause
from personas.vocabulary import Span, Vocabulary

Speaker = Literal["persona", "user"]

_FIRST = {"i", "i'm", "im", "i've", "ive", "i'd", "i'll", "we", "we're", "we've", "we'll", "my", "our", "me"}
_SECOND = {"you", "you're", "youre", "ur", "u", "your", "yours", "ya", "yourself", "you've", "you'll"}
_THIRD = {"he", "she", "they", "he's", "she's", "they're", "his", "her", "their", "someone", "everyone"}
_RELATIVES = {
    "sister", "sis", "brother", "bro", "mom", "mum", "mother", "dad", "father", "parents", "friend", "friends",
    "bestie", "boyfriend", "girlfriend", "bf", "gf", "roommate", "roomie", "flatmate", "cousin", "aunt", "uncle",
    "grandma", "grandpa", "boss", "coworker", "coworkers", "colleague", "husband", "wife", "partner", "neighbor",
    "neighbour", "son", "daughter", "kids", "family", "team", "class", "teacher",
}  # fmt: skip
_PREPOSITIONS = {"with", "to", "for", "at", "of", "from", "by", "in", "on", "about", "like"}
_PAST = {"was", "were", "had", "yesterday", "earlier", "ago", "went", "did", "used", "wore", "last", "before", "once"}
_PRESENT = {"now", "rn", "currently", "still", "atm"}
_FUTURE = {
    "will", "gonna", "tomorrow", "later", "plan", "planning", "wanna", "want", "wish", "would", "might", "maybe",
    "should", "could", "hope", "if", "someday", "heading", "headed", "going", "leaving", "soon", "tmrw", "tmr",
    "weekend", "next", "wants",
}  # fmt: skip
_GENERIC = {"love", "hate", "enjoy", "prefer", "miss", "favorite", "favourite", "usually", "always"}
_NEGATORS = {"not", "never", "nope", "anymore", "longer", "without"}
_LOCATIVE = {
    "at", "in", "on", "inside", "by", "near", "into", "up", "across", "around", "through", "along", "outside",
    "under", "over", "beside", "behind", "onto", "from", "here", "back",
}  # fmt: skip
_ARRIVAL = {"got", "get", "arrived", "made", "back", "came", "reached", "welcome", "moved", "relocated"}
_LEAVING = {"left", "leave", "leaving", "out", "outta", "done", "finished"}
_OUTFIT_TRIGGERS = {
    "wearing", "wear", "in", "into", "dressed", "on", "rocking", "sporting", "changed", "switched", "throw", "threw",
    "slipped", "put", "my", "and", "with", "got", "for",
}  # fmt: skip
_OUTFIT_REMOVAL = {
    "off",
    "took",
    "take",
    "taking",
    "removed",
    "without",
    "outta",
    "swapped",
    "swap",
    "ditched",
    "traded",
}
_MOOD_TRIGGERS = {
    "i'm", "im", "am", "feeling", "feel", "feels", "so", "kinda", "bit", "pretty", "really", "super", "very",
    "getting", "totally", "soo", "sooo", "lowkey", "highkey", "tbh", "quite", "all",
}  # fmt: skip
_PROP_TRIGGERS = {
    "with",
    "holding",
    "hold",
    "have",
    "got",
    "drinking",
    "sipping",
    "eating",
    "carrying",
    "and",
    "cuddling",
}
_FILLERS = {
    "the",
    "a",
    "an",
    "my",
    "our",
    "your",
    "ur",
    "this",
    "that",
    "some",
    "his",
    "her",
    "little",
    "new",
    "local",
    "favorite",
}


@dataclass
class ClauseCues:
    sets: dict[str, str] = field(default_factory=dict)  # field -> canonical value
    outfit_items: list[str] = field(default_factory=list)
    accessories: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)
    clears: dict[str, set[str]] = field(default_factory=dict)  # field -> canonical values to drop if current
    removed_garments: list[str] = field(default_factory=list)


def _word_set(tokens: list[str]) -> set[str]:
    return (
        set(tokens)
        | {t.split("'")[0] for t in tokens if "'" in t}
        | {"'" + t.split("'", 1)[1] for t in tokens if "'" in t}
    )


def subject_of(tokens: list[str]) -> str | None:
    """'first', 'second', 'third' or None (no subject: "at the gym rn" is the speaker talking about itself)."""
    for index, token in enumerate(tokens):
        if index and tokens[index - 1] in _PREPOSITIONS:
            continue  # "with my friends", "to you": objects, not subjects
        if token in _FIRST:
            if token in {"my", "our"} and index + 1 < len(tokens) and tokens[index + 1] in _RELATIVES:
                return "third"
            if token == "me":
                continue
            return "first"
        if token in _SECOND:
            if token == "your" and index + 1 < len(tokens) and tokens[index + 1] in _RELATIVES:
                return "third"
            return "second"
        if token in _THIRD or token in _RELATIVES:
            return "third"
    return None


def tense_of(tokens: list[str]) -> str:
    words = _word_set(tokens)
    if words & _PRESENT or "right now" in " ".join(tokens):
        return "present"
    if words & _FUTURE or "'ll" in words or "going to" in " ".join(tokens) or "on my way" in " ".join(tokens):
        return "future"
    if words & _PAST:
        return "past"
    return "present"


def _negated(tokens: list[str], start: int) -> bool:
    before = tokens[max(0, start - 6) : start]
    if any(t in _NEGATORS or t.endswith("n't") or t in {"isnt", "dont", "aint", "arent", "wasnt"} for t in before):
        return True
    return start > 0 and tokens[start - 1] == "no" or ("anymore" in tokens[start:] and "not" in tokens)


def _lead_in(tokens: list[str], start: int, limit: int = 4) -> list[str]:
    """The words before a match, skipping articles and colour/size words ("in my big red" -> in, my)."""
    return tokens[max(0, start - limit) : start]


def _has_trigger(tokens: list[str], start: int, triggers: set[str], vocabulary: Vocabulary, limit: int = 4) -> bool:
    for token in reversed(_lead_in(tokens, start, limit)):
        if token in triggers:
            return True
        if token not in _FILLERS and token not in vocabulary.modifiers:
            return False
    return False


def _leaving(lead: list[str]) -> bool:
    """'left the park', 'out of the shower', 'back from the gym' (but 'hi from the beach' is being there)."""
    recent = lead[-3:]
    if recent and recent[-1] in {"in", "at", "on"}:
        return False
    if "from" in recent:
        index = len(lead) - len(recent) + recent.index("from")
        return index > 0 and lead[index - 1] in {"back", "home", "came", "returned", "returning", "got"}
    return any(t in _LEAVING for t in recent)


def _garment_text(tokens: list[str], span: Span, vocabulary: Vocabulary) -> str:
    modifiers: list[str] = []
    index = span.start - 1
    while index >= 0 and tokens[index] in vocabulary.modifiers and len(modifiers) < 3:
        modifiers.insert(0, tokens[index])
        index -= 1
    return " ".join([*modifiers, span.entry.canonical])


def read_clause(clause: Clause, speaker: Speaker, vocabulary: Vocabulary, *, request: bool = False) -> ClauseCues:
    """Cues one clause gives about the persona. `request`: the clause is part of a user's picture request."""
    cues = ClauseCues()
    tokens = clause.tokens
    subject = subject_of(tokens)
    about_persona = subject in {None, "first"} if speaker == "persona" else subject in {None, "second"}
    if not about_persona or (clause.question and not request):
        return cues
    tense = tense_of(tokens)
    words = _word_set(tokens)
    liking = any(
        a in {"i", "we", "you", "u"} and b in {"like", "likes"} for a, b in zip(tokens, tokens[1:], strict=False)
    )
    generic = (bool(words & _GENERIC) or liking) and not request
    spans = vocabulary.find(tokens)
    locations: list[tuple[bool, str]] = []  # (had a preposition, canonical)

    for span in spans:
        category, value = span.entry.category, span.entry.canonical
        lead = _lead_in(tokens, span.start)
        negated = _negated(tokens, span.start)
        leaving = not request and _leaving(lead)
        if category == "locations":
            if negated or leaving:
                cues.clears.setdefault("location", set()).add(value)
                continue
            if tense != "present" or generic:
                continue
            prepositional = _has_trigger(tokens, span.start, _LOCATIVE | {"to"}, vocabulary)
            if "to" in lead and not (set(lead) & (_ARRIVAL | {"it"})):
                continue  # "going to the gym" is not being there yet
            if prepositional or value == "home" or (span.start == 0 and not request):
                locations.append((prepositional, value))
        elif category in {"outfits", "accessories"}:
            removal = any(t in _OUTFIT_REMOVAL for t in tokens[max(0, span.start - 4) : span.start])
            if negated or removal or "off" in tokens[span.end : span.end + 2]:
                cues.removed_garments.append(value)
                continue
            if tense == "past" or generic:
                continue
            if span.start == 0 or _has_trigger(tokens, span.start, _OUTFIT_TRIGGERS, vocabulary):
                target = cues.outfit_items if category == "outfits" else cues.accessories
                target.append(_garment_text(tokens, span, vocabulary))
        elif category in {"activities", "weather", "times"}:
            field_name = {"activities": "activity", "weather": "weather", "times": "time_of_day"}[category]
            if negated:
                cues.clears.setdefault(field_name, set()).add(value)
                continue
            if tense != "present" or (generic and category == "activities"):
                continue
            if request and category == "activities":
                continue  # "show me you cooking" is rare; "how to fix" is common
            cues.sets[field_name] = value
        elif category == "moods":
            if negated or tense != "present":
                continue
            emoji = not value.isalpha() and not any(ch.isalpha() for ch in tokens[span.start])
            if emoji or _has_trigger(tokens, span.start, _MOOD_TRIGGERS, vocabulary, limit=3) or span.start == 0:
                cues.sets["mood"] = value
        elif category == "props":
            if negated or tense != "present" or generic:
                continue
            if _has_trigger(tokens, span.start, _PROP_TRIGGERS, vocabulary):
                cues.props.append(value)

    if locations:
        with_preposition = [value for had, value in locations if had]
        cues.sets["location"] = with_preposition[0] if with_preposition else locations[0][1]
    return cues
