"""Rules that read scene cues out of one clause: who it is about, when, negated or not, and what it names.

A clause yields `ClauseCues`: values to set per field, values to clear ("not at the beach anymore", "left the
park", "took off the blazer"), and whether a location change should make the old activity and props stale.
Places and garments are whole noun phrases in the speaker's words ("snowy mountain", "lilac bridesmaid dress",
"skatepark"); the vocabulary only says what kind of word heads them, it never swaps one item for another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from personas.clause_facts import (
    GENERIC,
    LOCATIVE,
    RELATIVES,
    clock_time,
    is_leaving,
    is_negated,
    subject_of,
    tense_of,
    thing_subject,
    word_set,
)
from personas.phrases import (
    DETERMINERS,
    NON_GARMENTS,
    NON_PLACES,
    PARTS,
    NounPhrase,
    garment_evidence,
    is_word,
    kept_phrase,
    phrase_after,
    phrase_before,
    spans_by_start,
    verb_like,
)
from personas.text import Clause
from personas.vocabulary import Span, Vocabulary

Speaker = Literal["persona", "user"]

# Being on the way somewhere: "heading to", "omw to", "off to", "on my way to".
_MOTION = {"heading", "headed", "omw", "going", "walking", "driving", "biking", "cycling", "off", "way", "rushing"}
_OPEN_PLACE_PREPOSITIONS = LOCATIVE - {"here", "back", "up", "over"}
_ARRIVAL = {"got", "get", "arrived", "made", "back", "came", "reached", "welcome", "moved", "relocated"}
_OUTFIT_TRIGGERS = {
    "wearing", "wear", "in", "into", "dressed", "on", "rocking", "sporting", "changed", "switched", "throw", "threw",
    "slipped", "put", "my", "and", "with", "got", "for", "your",
}  # fmt: skip
# "wearing X" and "changed into X" always name a garment; "in X" or "put on X" only with a clothing word.
_WEARING = {"wearing", "wearin", "wears"}
_INTO_VERBS = {"changed", "changing", "change", "switched", "switching", "slipped", "slipping"}
_DRESSED = {"dressed", "clad"}
_PUT_ON = {"put", "putting", "threw", "throw", "throwing", "pulled", "rocking", "sporting"}
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
_INTENSIFIERS = {"so", "soo", "sooo", "super", "really", "very", "pretty", "kinda", "literally", "just", "such"}
_FILLERS = {"the", "a", "an", "my", "our", "your", "ur", "this", "that", "some", "his", "her", "little", "new", "local"}
# Subjects whose adjectives are the weather ("the sky is grey"); other things' are not ("my coffee is cold").
_WEATHER_THINGS = {"weather", "sky", "skies", "air", "day", "wind", "sun", "clouds", "outside", "temperature"}
# Verbs whose particle looks like a place preposition: "put on a movie", "turn on the light", "try on a dress".
_PARTICLE_VERBS = {
    "put", "putting", "threw", "throw", "turn", "turned", "turning", "switch", "switched", "try", "trying", "tried",
    "work", "working", "worked", "focus", "focusing", "count", "hold", "keep", "log", "logged", "carry", "based",
    "depends", "depend", "rely", "catch", "catching", "binge", "hooked",
    "believe", "believing", "get", "getting", "comment", "commenting", "vote", "spend", "spending",
}  # fmt: skip
_POSSESSIVES = {"my", "your", "ur", "our", "his", "her", "their"}


@dataclass
class ClauseCues:
    sets: dict[str, str] = field(default_factory=dict)  # field -> canonical value or kept phrase
    outfit_items: list[str] = field(default_factory=list)
    accessories: list[str] = field(default_factory=list)
    props: list[str] = field(default_factory=list)
    clears: dict[str, set[str]] = field(default_factory=dict)  # field -> values to drop if current
    removed_garments: list[str] = field(default_factory=list)


def _has_trigger(tokens: list[str], start: int, triggers: set[str], vocabulary: Vocabulary, limit: int = 4) -> bool:
    for token in reversed(tokens[max(0, start - limit) : start]):
        if token in triggers:
            return True
        if token not in _FILLERS and token not in vocabulary.modifiers and token not in _INTENSIFIERS:
            return False
    return False


def _place_lead(tokens: list[str], start: int) -> int:
    """Index of the word that introduces a place phrase starting at `start`, skipping a determiner and
    "the top of" ("at the top of the mountain" -> the index of "at"); -1 if none."""
    index = start - 1
    while index >= 0:
        if tokens[index] in DETERMINERS:
            index -= 1
        elif tokens[index] == "of" and index >= 1 and tokens[index - 1] in PARTS:
            index -= 2
        else:
            return index
    return -1


def _value(phrase: NounPhrase, span: Span) -> str:
    """The phrase's own words with the head in its canonical form ("snowy mountains" -> "snowy mountain")."""
    extra = phrase.words[:-1]
    if set(" ".join(extra).split()) & set(span.entry.canonical.split()):
        return kept_phrase(phrase.words)  # "ice skating rink" stays as said, not "ice skating ice rink"
    return kept_phrase([*extra, span.entry.canonical]) or span.entry.canonical


class _ClauseReader:
    """One clause's cues; keeps which tokens a place or garment phrase has used, so "hiking boots" sets no
    activity and "snowy mountain" no snowfall."""

    def __init__(self, clause: Clause, vocabulary: Vocabulary, *, request: bool) -> None:
        self.tokens = clause.tokens
        self.vocabulary = vocabulary
        self.request = request
        self.cues = ClauseCues()
        self.spans = vocabulary.find(self.tokens)
        self.by_start = spans_by_start(self.spans)
        self.used: set[int] = set()
        places = {s.start for s in self.spans if s.entry.category == "locations"}
        self.tense = tense_of(self.tokens, places)
        words = word_set(self.tokens)
        liking = any(
            a in {"i", "we", "you", "u"} and b in {"like", "likes"}
            for a, b in zip(self.tokens, self.tokens[1:], strict=False)
        )
        self.generic = (bool(words & GENERIC) or liking) and not request
        self.thing = thing_subject(self.tokens)
        self.locations: list[tuple[bool, str]] = []  # (had a preposition, value)

    def read(self) -> ClauseCues:
        if self.thing is None:
            self._known_garments()
            self._open_garments()
        self._known_places()
        self._open_places()
        self._other_spans()
        clock = clock_time(self.tokens)
        if clock and self.tense == "present" and not self.request:
            self.cues.sets["time_of_day"] = clock
        if self.locations:
            with_preposition = [value for had, value in self.locations if had]
            self.cues.sets["location"] = with_preposition[0] if with_preposition else self.locations[0][1]
        return self.cues

    def _use(self, start: int, end: int) -> None:
        self.used.update(range(start, end))

    # garments -------------------------------------------------------------------------------------------------
    def _known_garments(self) -> None:
        tokens = self.tokens
        garments = [s for s in self.spans if s.entry.category in {"outfits", "accessories"}]
        for span in garments:
            if span.start in self.used:
                continue
            following = self.by_start.get(span.end)
            if following and following.entry.category in {"outfits", "accessories"}:
                continue  # "flannel pajamas", "denim jacket": the first garment word describes the second
            phrase = phrase_before(tokens, span, self.spans, self.vocabulary, stop=_OUTFIT_TRIGGERS | _OUTFIT_REMOVAL)
            start = phrase.start
            removal = any(t in _OUTFIT_REMOVAL for t in tokens[max(0, start - 4) : start])
            if is_negated(tokens, start) or removal or "off" in tokens[span.end : span.end + 2]:
                self.cues.removed_garments.append(span.entry.canonical)
                self._use(start, span.end)
                continue
            if self.tense == "past" or self.generic:
                continue
            if start == 0 or _has_trigger(tokens, start, _OUTFIT_TRIGGERS, self.vocabulary):
                target = self.cues.outfit_items if span.entry.category == "outfits" else self.cues.accessories
                target.append(_value(phrase, span))
                self._use(start, span.end)

    def _open_garments(self) -> None:
        """Garments the vocabulary does not know, after "wearing", "changed into", or "in"/"put on" with a clothing
        word: "wearing a tracksuit", "in my white skates"."""
        if self.tense == "past" or self.generic:
            return
        tokens = self.tokens
        for index, token in enumerate(tokens):
            before = tokens[index - 1] if index else ""
            strong = (
                token in _WEARING
                or (token == "into" and before in _INTO_VERBS)
                or (token == "in" and before in _DRESSED)
            )
            costume = token == "as" and before in _DRESSED
            weak = (token == "on" and before in _PUT_ON) or token in {"rocking", "sporting"} or (
                token == "in" and before not in _DRESSED and index + 1 < len(tokens)
                and tokens[index + 1] in {"my", "a", "an", "your", "ur"}
            )  # fmt: skip
            if not (strong or costume or weak) or index + 1 in self.used:
                continue
            phrase = phrase_after(tokens, index + 1, self.by_start)
            removing = any(t in _OUTFIT_REMOVAL for t in tokens[max(0, index - 3) : index])
            if removing or is_negated(tokens, index + 1):
                continue
            while phrase and self._take_open_garment(phrase, needs_evidence=weak, costume=costume):
                if not strong or phrase.end >= len(tokens) or tokens[phrase.end] != "and":
                    break
                phrase = phrase_after(tokens, phrase.end + 1, self.by_start)  # "wearing a kilt and a sporran"

    def _take_open_garment(self, phrase: NounPhrase, *, needs_evidence: bool, costume: bool) -> bool:
        if (
            phrase.head
            or set(phrase.words) & NON_GARMENTS
            or any(i in self.used for i in range(phrase.start, phrase.end))
        ):
            return False
        if needs_evidence and not garment_evidence(phrase.words, self.vocabulary):
            return False
        value = kept_phrase(phrase.words)
        if not value:
            return False
        self.cues.outfit_items.append(f"{value} costume" if costume else value)
        self._use(phrase.start, phrase.end)
        return True

    # places ---------------------------------------------------------------------------------------------------
    def _place_allowed(self, lead: int) -> bool:
        """ "to" counts only for arriving ("got to") or being on the way ("heading to", "omw to")."""
        tokens = self.tokens
        before = set(tokens[max(0, lead - 3) : lead])
        if tokens[lead] == "to" and not before & (_ARRIVAL | _MOTION | {"it"}):
            return False
        return True

    def _set_place(self, value: str, start: int, end: int, *, prepositional: bool) -> None:
        tokens = self.tokens
        lead = tokens[max(0, start - 4) : start]
        if is_negated(tokens, start) or (not self.request and is_leaving(lead)):
            self.cues.clears.setdefault("location", set()).add(value)
            self._use(start, end)
            return
        if self.tense != "present" or self.generic:
            return
        self.locations.append((prepositional, value))
        self._use(start, end)

    def _known_places(self) -> None:
        tokens = self.tokens
        for span in self.spans:
            if span.entry.category != "locations" or span.start in self.used:
                continue
            following = self.by_start.get(span.end)
            if following and following.entry.category == "locations":
                continue  # "beach house", "airport lounge": the later word heads the phrase
            if tokens[span.start] in PARTS and tokens[span.end : span.end + 1] == ["of"]:
                continue  # "the deck of the ship", "the roof of the hotel": the place is the one after "of"
            phrase = phrase_before(tokens, span, self.spans, self.vocabulary, stop=LOCATIVE | {"to"})
            compound = phrase_after(tokens, span.end, self.by_start, limit=2) if span.end < len(tokens) else None
            words = list(phrase.words)
            end = span.end
            # "airport lounge": with another place word in front, the speaker's words are the place, not "lounge"
            adjunct = any(s.entry.category == "locations" and phrase.start <= s.start < span.start for s in self.spans)
            value = kept_phrase(phrase.words) if adjunct else _value(phrase, span)
            if (
                compound
                and not compound.head
                and tokens[span.end] not in DETERMINERS
                and not verb_like(tokens[span.end])
                and _is_place_noun(compound, self.vocabulary)
            ):
                if phrase.start and tokens[phrase.start - 1] in _POSSESSIVES | {"a", "an"}:
                    continue  # "in my work lanyard": the place word describes a thing of mine, maybe worn
                words, end = [*words, *compound.words], compound.end  # "bus shelter", "train platform"
                value = kept_phrase(words)
            lead = _place_lead(tokens, phrase.start)
            prepositional = lead >= 0 and tokens[lead] in LOCATIVE | {"to"} and self._place_allowed(lead)
            if lead >= 0 and tokens[lead] == "to" and not prepositional:
                continue  # "going to the gym later" is not being there
            at_start = span.start <= 1 and phrase.start == 0 and not self.request and self.thing is None
            if prepositional or span.entry.canonical == "home" or at_start:
                self._set_place(value, phrase.start, end, prepositional=prepositional)

    def _open_places(self) -> None:
        tokens = self.tokens
        for index, token in enumerate(tokens[:-1]):
            is_to = token == "to" and self._place_allowed(index)
            if not (token in _OPEN_PLACE_PREPOSITIONS or is_to) or index + 1 in self.used:
                continue
            if index and tokens[index - 1] in _PARTICLE_VERBS:
                continue  # "put on a movie", "work on the project"
            determiner = tokens[index + 1]
            if determiner not in DETERMINERS:
                self._possessive_place(index)
                continue
            phrase = phrase_after(tokens, index + 1, self.by_start)
            if determiner in _POSSESSIVES and not (phrase and "'s" in " ".join(tokens[phrase.start : phrase.end])):
                continue  # "on my sleeve", "in my head" are no places; "at my friend's graduation" is
            if phrase and phrase.words and phrase.words[-1] in PARTS and phrase.end + 1 < len(tokens):
                if tokens[phrase.end] == "of":  # "the top of the lighthouse"
                    phrase = phrase_after(tokens, phrase.end + 1, self.by_start)
            if not phrase or phrase.head or any(i in self.used for i in range(phrase.start, phrase.end)):
                continue
            if not _is_place_noun(phrase, self.vocabulary):
                continue
            if token == "in" and determiner not in {"the", "this", "that"}:
                continue  # "in my X" / "in a X" may be a garment or a place; without a clothing word, leave it
            self._set_place(kept_phrase(phrase.words), phrase.start, phrase.end, prepositional=True)

    def _possessive_place(self, index: int) -> None:
        """'at jess's', 'at my aunt's': someone's home."""
        tokens = self.tokens
        at = index + 1
        if at < len(tokens) and tokens[at] in {"my", "our"}:
            at += 1
        if tokens[index] not in {"at", "to"} or at >= len(tokens) or at in self.used or at in self.by_start:
            return
        token = tokens[at]
        if token.endswith("'s") and (at + 1 >= len(tokens) or not is_word(tokens[at + 1])):
            value = "parents' house" if token[:-2] in RELATIVES else "friend's house"
            self._set_place(value, at, at + 1, prepositional=True)

    # everything else ------------------------------------------------------------------------------------------
    def _other_spans(self) -> None:
        tokens, cues = self.tokens, self.cues
        for span in self.spans:
            category, value = span.entry.category, span.entry.canonical
            if span.start in self.used or category in {"locations", "outfits", "accessories"}:
                continue
            negated = is_negated(tokens, span.start)
            if category in {"activities", "weather", "times"}:
                field_name = {"activities": "activity", "weather": "weather", "times": "time_of_day"}[category]
                if negated:
                    cues.clears.setdefault(field_name, set()).add(value)
                    continue
                if self.tense != "present" or (self.generic and category == "activities"):
                    continue
                if self.request and category == "activities":
                    continue  # "show me you cooking" is rare; "how to fix" is common
                if self.thing and category == "activities":
                    continue
                if self.thing and category == "weather" and self.thing not in _WEATHER_THINGS:
                    continue  # "my coffee is cold" is not the weather
                cues.sets[field_name] = value
            elif category == "moods":
                if negated or self.tense != "present" or self.thing:
                    continue
                emoji = not value.isalpha() and not any(ch.isalpha() for ch in tokens[span.start])
                if emoji or _has_trigger(tokens, span.start, _MOOD_TRIGGERS, self.vocabulary, limit=3):
                    cues.sets["mood"] = value
                elif span.start == 0:
                    cues.sets["mood"] = value
            elif category == "props":
                if negated or self.tense != "present" or self.generic or self.thing:
                    continue
                if _has_trigger(tokens, span.start, _PROP_TRIGGERS, self.vocabulary):
                    cues.props.append(value)


def _is_place_noun(phrase: NounPhrase, vocabulary: Vocabulary) -> bool:
    head = phrase.words[-1] if phrase.words else ""
    return (
        len(head) >= 3
        and head not in vocabulary.modifiers  # "at the extremely long ..." has not reached its noun
        and head not in NON_PLACES
        and head not in NON_GARMENTS
        and not head.isdigit()
        and not (head.endswith("ing") and len(phrase.words) == 1)
        and not head.endswith("'s")
    )


def read_clause(clause: Clause, speaker: Speaker, vocabulary: Vocabulary, *, request: bool = False) -> ClauseCues:
    """Cues one clause gives about the persona. `request`: the clause is part of a user's picture request."""
    tokens = clause.tokens
    nouns = {s.start for s in vocabulary.find(tokens) if s.entry.category in {"locations", "outfits", "props"}}
    subject = subject_of(tokens, nouns)
    about_persona = subject in {None, "first"} if speaker == "persona" else subject in {None, "second"}
    if not about_persona or (clause.question and not request):
        return ClauseCues()
    return _ClauseReader(clause, vocabulary, request=request).read()
