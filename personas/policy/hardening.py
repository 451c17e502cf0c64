"""Defence in depth on the final prompt and negative: the words that keep a picture adult and, where it must be,
clothed, even if a check before missed something.

- explicit pictures: the prompt opens with adult anchoring ("adult woman, 25 years old"), phrases with a minor cue
  are dropped from the prompt, the negative opens with child-related terms, and adult words ("mature") are dropped
  from the negative;
- every other picture, and always for a reference-photo persona: explicit phrases are dropped from the prompt,
  clothing and modesty words from the negative, and the negative opens with nudity terms.
Prompts are edited by comma-separated phrase, and the added words go first so the 77-token CLIP cut keeps them.
"""

from __future__ import annotations

from personas.policy.ages import ADULT_AGE, stated_ages
from personas.policy.detect import explicit_terms, find_minor_cues, negative_makes_younger, negative_undresses
from personas.policy.normalize import text_forms

# Neither list names clothing, so a hardened negative never reads as undressing to `check_picture`.
CHILD_NEGATIVE = ("child", "teenager", "underage", "childlike features", "young-looking")
NUDITY_NEGATIVE = ("nsfw", "nude", "naked", "nipples", "topless", "exposed breasts")
ANCHOR_AGE = "25 years old"
_FEMALE = frozenset("woman women girl girls female lady she her hers wife girlfriend".split())
_MALE = frozenset("man men boy boys male guy he him his husband boyfriend".split())


def _phrases(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _join(*groups: list[str] | tuple[str, ...]) -> str:
    seen: dict[str, str] = {}
    for group in groups:
        for phrase in group:
            seen.setdefault(phrase.casefold(), phrase)
    return ", ".join(seen.values())


def adult_anchor(prompt: str) -> list[str]:
    """ "adult woman", "adult man" or "adult", plus "25 years old" unless the prompt already states an adult age."""
    forms = text_forms(prompt)
    words = set(forms.latin.split())
    female, male = bool(words & _FEMALE), bool(words & _MALE)
    anchor = ["adult woman" if female and not male else "adult man" if male and not female else "adult"]
    if not any(age >= ADULT_AGE for age in stated_ages(forms)):
        anchor.append(ANCHOR_AGE)
    return anchor


def harden_prompt(prompt: str, negative: str, *, explicit: bool, has_reference: bool) -> tuple[str, str]:
    """The prompt and negative to draw with (see the module docstring). Applying it twice changes nothing more."""
    if explicit and not has_reference:
        kept = [phrase for phrase in _phrases(prompt) if not find_minor_cues(phrase)]
        anchor = adult_anchor(", ".join(kept))
        if [phrase.casefold() for phrase in kept[: len(anchor)]] == anchor:
            anchor = []
        kept_negative = [phrase for phrase in _phrases(negative) if not negative_makes_younger(phrase)]
        return _join(anchor, kept), _join(CHILD_NEGATIVE, kept_negative)
    kept = [phrase for phrase in _phrases(prompt) if not explicit_terms(phrase)]
    kept_negative = [phrase for phrase in _phrases(negative) if not negative_undresses(phrase)]
    return _join(kept), _join(NUDITY_NEGATIVE, kept_negative)
