"""Which conversation turns may be handed to a language model (replies and scene extraction alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

from personas.policy.policy import check_chat_turn

CONTEXT_TURNS = 3  # a turn is judged with the few turns before it ("she's 14" ... "send nudes of her")


class _HasContent(Protocol):
    content: str


T = TypeVar("T", bound=_HasContent)


def allowed_turns(turns: Sequence[T]) -> list[T]:
    """`turns` without those the policy refuses (sexual wording about a minor, alone or with the turns just before
    it): such a turn never reaches any model, not even as old context."""
    return [
        turn
        for index, turn in enumerate(turns)
        if check_chat_turn(turn.content, context=[t.content for t in turns[max(0, index - CONTEXT_TURNS) : index]])
        is None
    ]
