"""Text policy: what the words of a persona, a request, a prompt or a reply mean, however they are spelled."""

from personas.policy.detect import (
    Tier,
    explicit_terms,
    find_minor_cues,
    is_explicit,
    names_clothing,
    negative_makes_younger,
    negative_undresses,
)
from personas.policy.normalize import TextForms, normalize, text_forms

__all__ = [
    "TextForms",
    "Tier",
    "explicit_terms",
    "find_minor_cues",
    "is_explicit",
    "names_clothing",
    "negative_makes_younger",
    "negative_undresses",
    "normalize",
    "text_forms",
]
