"""`Admission`: how many selfies one user may have on the way at once.

The selfie flow asks before it queues anything. A refusal is one sentence the persona can say; an admitted request
holds a `Ticket` that is released when the request is over, whatever the outcome, so a failure never leaks a slot.
Counts live in this process only: after a restart the resumed requests are admitted again (`force=True`).

There is deliberately no per-server cap: a fixed cap refused a busy server's burst while the GPU sat idle. Servers
share the GPU fairly instead (the generation queue serves round-robin by server, then by user), and the only other
refusal is the global queue being full (`MAX_QUEUE`, raised by the generation service).
"""

from __future__ import annotations

from collections import Counter


class Refused(Exception):
    """The request was not taken; `str(error)` is what the requester is told."""


class Ticket:
    """One admitted request; `release()` may be called any number of times."""

    def __init__(self, admission: Admission, guild_id: int, user_id: int) -> None:
        self._admission = admission
        self.guild_id = guild_id
        self.user_id = user_id
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._admission._release(self)


class Admission:
    def __init__(self, per_user: int = 2) -> None:
        self.per_user = per_user
        self._users: Counter[tuple[int, int]] = Counter()  # (guild, user): a user's limit is per server
        self._guilds: Counter[int] = Counter()  # only counted (for figures and tests), never a limit

    def pending(self, guild_id: int, user_id: int | None = None) -> int:
        return self._guilds[guild_id] if user_id is None else self._users[guild_id, user_id]

    def admit(self, guild_id: int, user_id: int, *, force: bool = False) -> Ticket:
        """A ticket for one more selfie, or `Refused` with the sentence to say."""
        if not force:
            mine = self._users[guild_id, user_id]
            if mine >= self.per_user:
                if mine == 1:
                    raise Refused("you already have a selfie on the way — I'll get to the next one after that.")
                raise Refused(f"you already have {mine} selfies on the way — I'll get to the next one after those.")
        self._users[guild_id, user_id] += 1
        self._guilds[guild_id] += 1
        return Ticket(self, guild_id, user_id)

    def _release(self, ticket: Ticket) -> None:
        key = (ticket.guild_id, ticket.user_id)
        self._users[key] -= 1
        if self._users[key] <= 0:
            del self._users[key]
        self._guilds[ticket.guild_id] -= 1
        if self._guilds[ticket.guild_id] <= 0:
            del self._guilds[ticket.guild_id]
