"""Deterministic seeds: the persona's own, one per selfie in `varied` mode, and one per "another take"."""

from __future__ import annotations

import hashlib

from personas.models import MAX_SEED


def _hash_to_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:4], "big") & MAX_SEED


def default_seed(name: str) -> int:
    """A stable seed for a persona created without one, so the same name draws the same face everywhere."""
    return _hash_to_seed(f"persona:{name.casefold()}")


def selfie_seed(persona_seed: int, seed_mode: str, nonce: int = 0) -> int:
    """`fixed`: always the persona seed. `varied`: a new seed per selfie, derived from (persona seed, nonce)."""
    if seed_mode == "varied":
        return _hash_to_seed(f"varied:{persona_seed}:{nonce}")
    return persona_seed


def take_seed(seed: int, take: int) -> int:
    """The seed of the n-th "another take" of a selfie drawn with `seed`; take 0 is the original."""
    if take <= 0:
        return seed
    return _hash_to_seed(f"take:{seed}:{take}")
