"""Identity: how much a picture looks like a persona's references (face embedding, CLIP fallback), and best of N."""

from generation.identity.candidates import BestOfN, Candidate, candidate_seeds, render_best_of
from generation.identity.errors import IdentityError, IdentityUnavailable, UnreadableIdentityImage
from generation.identity.scorer import IdentityScore, IdentityScorer, ScoreMethod

__all__ = [
    "BestOfN",
    "Candidate",
    "IdentityError",
    "IdentityScore",
    "IdentityScorer",
    "IdentityUnavailable",
    "ScoreMethod",
    "UnreadableIdentityImage",
    "candidate_seeds",
    "render_best_of",
]
