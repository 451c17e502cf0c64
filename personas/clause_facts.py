"""Facts about one chat clause before reading what it names: who it is about, when, and whether it is negated.

"I'm at the gym" is the speaker now; "my sister is at the zoo" someone else; "I was at the gym" the past; "heading
to the pool" the present (on the way); "the sea is so blue" describes a thing, not the speaker's mood.
"""

from __future__ import annotations

import re

from personas.phrases import DETERMINERS, is_word

FIRST = {"i", "i'm", "im", "i've", "ive", "i'd", "i'll", "we", "we're", "we've", "we'll", "my", "our", "me"}
SECOND = {"you", "you're", "youre", "ur", "u", "your", "yours", "ya", "yourself", "you've", "you'll"}
THIRD = {"he", "she", "they", "he's", "she's", "they're", "his", "her", "their", "someone", "everyone"}
RELATIVES = {
    "sister", "sis", "brother", "bro", "mom", "mum", "mother", "dad", "father", "parents", "friend", "friends",
    "bestie", "boyfriend", "girlfriend", "bf", "gf", "roommate", "roomie", "flatmate", "cousin", "aunt", "uncle",
    "grandma", "grandpa", "boss", "coworker", "coworkers", "colleague", "husband", "wife", "partner", "neighbor",
    "neighbour", "son", "daughter", "kids", "family", "team", "class", "teacher",
}  # fmt: skip
LOCATIVE = {
    "at", "in", "on", "inside", "by", "near", "into", "up", "across", "around", "through", "along", "outside",
    "under", "over", "beside", "behind", "onto", "from", "here", "back",
}  # fmt: skip
GENERIC = {"love", "hate", "enjoy", "prefer", "miss", "favorite", "favourite", "usually", "always"}
_PREPOSITIONS = {"with", "to", "for", "at", "of", "from", "by", "in", "on", "about", "like"}
_PAST = {"was", "were", "had", "yesterday", "earlier", "ago", "went", "did", "used", "wore", "last", "before", "once"}
_PRESENT = {"now", "rn", "currently", "still", "atm"}
# No "heading"/"going" here: being on the way somewhere is the present ("heading to the pool in my swimsuit").
_FUTURE = {
    "will", "gonna", "tomorrow", "later", "plan", "planning", "wanna", "want", "wish", "would", "might", "maybe",
    "should", "could", "hope", "if", "someday", "soon", "tmrw", "tmr", "weekend", "next", "wants",
}  # fmt: skip
_NEGATORS = {"not", "never", "nope", "anymore", "longer", "without"}
_LEAVING = {"left", "leave", "leaving", "out", "outta", "done", "finished"}
_COPULAS = {"is", "are", "was", "were", "looks", "look", "feels", "seems", "smells", "tastes"}
_CLOCK = re.compile(r"\b(\d{1,2})(?:\s*:\s*\d{2})?\s*(am|pm)\b")
# Plans and past acts at a clock time are not the time now: "meet me at 7pm", "woke up at 6am".
_NOT_NOW_AT = {
    "meet",
    "see",
    "call",
    "text",
    "ring",
    "pick",
    "wake",
    "woke",
    "start",
    "starts",
    "leave",
    "until",
    "till",
}
# After "my brother's", these mean "'s = is" ("my brother's at the gym"), not a possession ("my brother's hoodie").
_CONTRACTION_FOLLOWERS = LOCATIVE | {"so", "not", "still", "home", "being", "getting", "going", "gonna", "been", "just"}


def word_set(tokens: list[str]) -> set[str]:
    return (
        set(tokens)
        | {t.split("'")[0] for t in tokens if "'" in t}
        | {"'" + t.split("'", 1)[1] for t in tokens if "'" in t}
    )


def _relative_is(tokens: list[str], index: int, nouns: frozenset[int] | set[int] = frozenset()) -> bool:
    """'my brother's at the arcade' ('s = is) but not 'my brother's hoodie' or 'my cousin's wedding' (a possession:
    `nouns` are the indices where a known noun starts)."""
    token = tokens[index]
    if not token.endswith("'s") or token[:-2] not in RELATIVES:
        return False
    following = tokens[index + 1] if index + 1 < len(tokens) else ""
    if index + 1 in nouns:
        return False
    return following in _CONTRACTION_FOLLOWERS or following.endswith("ing")


def subject_of(tokens: list[str], nouns: frozenset[int] | set[int] = frozenset()) -> str | None:
    """'first', 'second', 'third' or None (no subject: "at the gym rn" is the speaker talking about itself)."""
    for index, token in enumerate(tokens):
        if index and tokens[index - 1] in _PREPOSITIONS:
            continue  # "with my friends", "to you": objects, not subjects
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in FIRST:
            if token in {"my", "our"} and (
                following in RELATIVES or (following and _relative_is(tokens, index + 1, nouns))
            ):
                return "third"
            if token == "me":
                continue
            return "first"
        if token in SECOND:
            if token == "your" and following in RELATIVES:
                return "third"
            return "second"
        if token in THIRD or _relative_is(tokens, index, nouns):
            return "third"
        if token in RELATIVES and (index == 0 or tokens[index - 1] in {"the", "a", "his", "her", "their"}):
            return "third"  # "sister is at the zoo", "the team is here"; not "ballet class"
    return None


def thing_subject(tokens: list[str]) -> str | None:
    """'the sea is so blue', 'my coffee is cold': the clause describes a thing, not the speaker."""
    if not tokens or tokens[0] not in {"the", "this", "that", "these", "those", "my", "our", "his", "her", "their"}:
        return None
    for index in range(1, min(4, len(tokens))):
        token = tokens[index]
        if token in _COPULAS and index > 1:
            return tokens[index - 1]
        if token.endswith("'s") and token not in FIRST | SECOND | THIRD:
            return token[:-2]
        if not is_word(token):
            return None
    return None


def tense_of(tokens: list[str], places: set[int] | None = None) -> str:
    """'present', 'future' or 'past'. "going to" a place is moving there now; "going to" do something is future."""
    words = word_set(tokens)
    text = " ".join(tokens)
    if words & _PRESENT or "right now" in text:
        return "present"
    going_to_do = any(
        a == "going" and b == "to" and index + 2 < len(tokens) and tokens[index + 2] not in DETERMINERS
        and (index + 2) not in (places or set())
        for index, (a, b) in enumerate(zip(tokens, tokens[1:], strict=False))
    )  # fmt: skip
    if words & _FUTURE or "'ll" in words or going_to_do:
        return "future"
    if words & _PAST:
        return "past"
    return "present"


def is_negated(tokens: list[str], start: int) -> bool:
    before = tokens[max(0, start - 6) : start]
    if any(t in _NEGATORS or t.endswith("n't") or t in {"isnt", "dont", "aint", "arent", "wasnt"} for t in before):
        return True
    return start > 0 and tokens[start - 1] == "no" or ("anymore" in tokens[start:] and "not" in tokens)


def is_leaving(lead: list[str]) -> bool:
    """'left the park', 'out of the shower', 'back from the gym' (but 'hi from the beach' is being there)."""
    while lead and lead[-1] in DETERMINERS:
        lead = lead[:-1]
    recent = lead[-3:]
    if recent and recent[-1] in {"in", "at", "on", "to"}:
        return False  # "heading out to the pier" is going there
    if "from" in recent:
        index = len(lead) - len(recent) + recent.index("from")
        return index > 0 and lead[index - 1] in {"back", "home", "came", "returned", "returning", "got"}
    return any(t in _LEAVING for t in recent)


def clock_time(tokens: list[str]) -> str | None:
    """'it's 9pm' -> 'night', '7:30 am' -> 'morning'; None for plans and past acts ("meet me at 7pm")."""
    if set(tokens) & _NOT_NOW_AT:
        return None
    match = _CLOCK.search(" ".join(tokens))
    if not match or not 1 <= int(match.group(1)) <= 12:
        return None
    hour = int(match.group(1)) % 12 + (12 if match.group(2) == "pm" else 0)
    if 5 <= hour < 12:
        return "morning"
    if 12 <= hour < 14:
        return "noon"
    if 14 <= hour < 18:
        return "afternoon"
    return "evening" if 18 <= hour < 21 else "night"
