"""Fair sharing in the generation queue: round-robin between servers first, then between users of a server."""

from __future__ import annotations

import asyncio

from generation.service import GenerationService
from tests.generation.conftest import tiny_request


class RecordingEngine:
    """The real engine, with a record of the prompts of each pipeline call."""

    def __init__(self, engine):
        self._engine = engine
        self.served: list[str] = []

    def __getattr__(self, name):
        return getattr(self._engine, name)

    def run(self, batch, **kwargs):
        self.served.extend(item.request.prompt for item in batch)
        return self._engine.run(batch, **kwargs)


async def test_a_quiet_server_is_served_before_a_busy_servers_burst(engine):
    recording = RecordingEngine(engine)
    service = GenerationService(recording, max_batch=1)
    try:
        busy, quiet = 1, 2
        blocker = asyncio.create_task(service.generate(tiny_request("busy zoe", steps=8), owner=(busy, "zoe")))
        await asyncio.sleep(0.05)
        burst = [
            asyncio.create_task(service.generate(tiny_request(f"busy {user} {n}"), owner=(busy, user)))
            for n in range(2)
            for user in ("ann", "bob", "cat")
        ]
        await asyncio.sleep(0.01)
        positions = []
        lone = asyncio.create_task(
            service.generate(
                tiny_request("quiet dan 0"), owner=(quiet, "dan"), on_progress=lambda e: positions.append(e.position)
            )
        )
        await asyncio.gather(blocker, lone, *burst)
    finally:
        await service.close()
    assert recording.served[:2] == ["busy zoe", "quiet dan 0"]  # the busy server was served last: the quiet one next
    assert positions[0] == 1
    # inside the busy server, users take turns: everyone's first picture before anyone's second
    assert recording.served[2:] == [f"busy {user} {n}" for n in range(2) for user in ("ann", "bob", "cat")]


async def test_servers_alternate_while_both_have_work(engine):
    recording = RecordingEngine(engine)
    service = GenerationService(recording, max_batch=1)
    try:
        blocker = asyncio.create_task(service.generate(tiny_request("c blocker", steps=8), owner=(3, "carl")))
        await asyncio.sleep(0.05)
        jobs = [asyncio.create_task(service.generate(tiny_request(f"a {n}"), owner=(1, f"u{n}"))) for n in range(3)]
        jobs += [asyncio.create_task(service.generate(tiny_request(f"b {n}"), owner=(2, f"v{n}"))) for n in range(3)]
        await asyncio.gather(blocker, *jobs)
    finally:
        await service.close()
    assert recording.served == ["c blocker", "a 0", "b 0", "a 1", "b 1", "a 2", "b 2"]
