"""What a text says, read through the normaliser: minor cues, explicit wording, clothing.

These are the building blocks of the decisions in `policy.py`; each takes raw text (any script, any spelling) and
normalises it itself. They judge the words, not the intent: "teacher at a high school" is a minor cue because a
school setting is one, and "the sex of the puppy" is explicit wording. Decisions err on that side.
"""

from __future__ import annotations

from enum import Enum

from personas.policy import lexicon
from personas.policy.ages import minor_age_cues
from personas.policy.normalize import TextForms, text_forms
from personas.policy.terms import TermSet


class Tier(Enum):
    """How explicit a wording is. Pictures treat both tiers alike; chat replies outside age-restricted channels
    are only held back for HARD wording ("sexy" is fine in a reply, "nude" is not)."""

    HARD = "hard"  # nudity, sex, genitals, undressing
    SUGGESTIVE = "suggestive"  # lingerie, "sexy", bare-chested, barely covered


_MINOR = TermSet(lexicon.MINOR_TERMS, native_patterns=lexicon.MINOR_NATIVE, glued=lexicon.MINOR_GLUED)
_HARD = TermSet(
    lexicon.EXPLICIT_HARD,
    latin_patterns=lexicon.EXPLICIT_HARD_PATTERNS,
    native_patterns=lexicon.EXPLICIT_NATIVE,
    glued=lexicon.EXPLICIT_GLUED,
)
_SUGGESTIVE = TermSet(lexicon.EXPLICIT_SUGGESTIVE, latin_patterns=lexicon.EXPLICIT_SUGGESTIVE_PATTERNS)
_CLOTHING = TermSet(lexicon.CLOTHING_TERMS, native_patterns=lexicon.CLOTHING_NATIVE, glued=lexicon.CLOTHING_GLUED)
_MODESTY = TermSet(lexicon.MODESTY_TERMS)
_ADULT = TermSet(lexicon.ADULT_TERMS)


def _forms(text: str | TextForms) -> TextForms:
    return text if isinstance(text, TextForms) else text_forms(text)


def find_minor_cues(text: str | TextForms) -> list[str]:
    """Every sign that `text` describes or involves a minor, as short labels ("teen", "age 14", "school setting").

    Empty when there is none. Words for young people, ages under 18 in any common format, school grades and
    school settings, in English and the core terms of Spanish, French, German, Portuguese, Italian, Russian and
    Japanese, however they are spelled.
    """
    forms = _forms(text)
    return [*_MINOR.find(forms), *minor_age_cues(forms)]


def explicit_terms(text: str | TextForms, *, tier: Tier | None = None) -> list[str]:
    """The explicit or undressed wording in `text` (all tiers, or one)."""
    forms = _forms(text)
    found: list[str] = []
    if tier in (None, Tier.HARD):
        found += _HARD.find(forms)
    if tier in (None, Tier.SUGGESTIVE):
        found += _SUGGESTIVE.find(forms)
    return found


def is_explicit(text: str | TextForms) -> bool:
    """Does `text` ask for or describe nudity, sex, or a barely clothed body ("unclothed", "lingerie", "sexy")?"""
    return bool(explicit_terms(text))


def names_clothing(text: str | TextForms) -> list[str]:
    """The clothing `text` names ("dress", "clothes", "school uniform"); in a negative prompt these undress a picture.

    Accessories that leave the body covered (hats, glasses, shoes, gloves) are not clothing here.
    """
    return _CLOTHING.find(_forms(text))


def negative_undresses(negative: str | TextForms) -> list[str]:
    """What in a negative prompt pushes a picture towards nudity: clothing, or modesty words ("sfw", "censored")."""
    forms = _forms(negative)
    return [*_CLOTHING.find(forms), *_MODESTY.find(forms)]


def negative_makes_younger(negative: str | TextForms) -> list[str]:
    """What in a negative prompt pushes a picture towards a younger body ("adult", "mature", "grown up")."""
    return _ADULT.find(_forms(negative))
