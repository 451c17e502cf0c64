"""Load: bursts of chat selfie requests against the bot on the local Discord stand-in; prints what came back.

    python -m benchmarks.load [--users 20] [--requests 5] [--personas 3] [--channels 3] [--spread 2.0]
                              [--per-user 2] [--timeout 180] [--json OUT]
    python -m benchmarks.load --users 10 --requests 30 --spread 120 --per-user 3   # a soak

A soak spreads many requests over minutes and reports resident memory before and after (growth = leaks).

Everything runs in this process on 127.0.0.1 (the stand-in from tests/discord_standin, the tiny demo engine, 2 steps
at 64x64) and stops by itself. A request is answered by a picture or a refusal that mentions its user; the script
waits until every request has one answer (or the timeout) and reports duplicates and unanswered requests, which
must both be 0. Waits are measured from each request's snowflake time to its answer's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import discord

from bot.runner import bot_resources
from bot.settings import Settings
from generation.engine import Engine
from tests.discord_standin import running_standin

PERSONAS = ("Mira", "Kenji", "Ava", "Noor", "Lena")
LOOKS = ("young woman, auburn hair", "young man, short black hair", "woman, silver bob", "woman, dark curls", "man")


def snowflake_seconds(snowflake: int) -> float:
    return discord.utils.snowflake_time(snowflake).timestamp()


def jain(values: list[float]) -> float:
    """Jain's fairness index: 1.0 when everyone waits the same, 1/n when one user gets everything."""
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values)) if values and any(values) else 1.0


def rss_mb() -> float:
    """Resident memory of this process (Linux), for the soak figures: growth means something is kept per request."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def refusal_reason(text: str) -> str:
    for key, reason in (("on the way", "per_user"), ("queue is full", "queue_full")):
        if key in text:
            return reason
    return "other"


async def run(args: argparse.Namespace) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="selfiebot-load-"))
    engine = await asyncio.to_thread(Engine.load, "demo", "cpu", workdir)
    async with running_standin() as standin:
        w = standin.default
        channels = [w.general] + [standin.add_channel(w.guild, f"lounge-{i}") for i in range(1, args.channels)]
        users = []
        for i in range(args.users):
            user = standin.add_user(f"user{i:02d}")
            standin.add_member(w.guild, user)
            users.append(user)
        settings = Settings(
            discord_token=standin.token,
            api_base=standin.api_base,
            gateway_url=standin.gateway_url,
            data_dir=workdir / "data",
            database_path=workdir / "data" / "selfiebot.sqlite3",
            selfie_steps=2,
            selfie_size=64,
            progress_interval_s=1.5,
            guild_ready_timeout_s=0.1,
            shutdown_grace_s=5.0,
            max_pending_per_user=args.per_user,
        )
        async with bot_resources(settings, engine) as bot:
            client = asyncio.create_task(bot.start(settings.discord_token))
            await asyncio.wait_for(bot.ready_event.wait(), 20)
            names = PERSONAS[: args.personas]
            for name, look in zip(names, LOOKS, strict=False):
                persona = await bot.services.store.create_persona(w.guild.id, name=name, appearance=look)
                for channel in channels:
                    await bot.services.store.activate(w.guild.id, channel.id, persona.id)

            rng = random.Random(5)
            plan = sorted(
                (rng.uniform(0, args.spread), user, rng.choice(names), rng.choice(channels))
                for user in users
                for _ in range(args.requests)
            )
            rss_before = rss_mb()
            started = time.monotonic()
            sent: dict[int, list[int]] = defaultdict(list)  # user id -> request message ids
            for at, user, name, channel in plan:
                await asyncio.sleep(max(0.0, started + at - time.monotonic()))
                message = await standin.user_says(channel, user, f"{name} send me a selfie please")
                sent[user.id].append(message.id)
            total = len(plan)

            def answers() -> list:
                return [
                    m
                    for m in standin.messages
                    if m.source == "webhook"
                    and not m.deleted
                    and (m.files or "getting ready" not in m.content)
                    and m.content.startswith("<@")
                ]

            deadline = time.monotonic() + args.timeout
            while len(answers()) < total and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)  # anything answered twice shows up now
            elapsed = time.monotonic() - started

            by_user: dict[int, list] = defaultdict(list)
            for message in answers():
                by_user[int(message.content[2:].split(">", 1)[0])].append(message)
            pictures = [m for m in answers() if m.files]
            refusals = Counter(refusal_reason(m.content) for m in answers() if not m.files)
            queue_waits = []
            for message in pictures:
                selfie_id = int(message.components[0]["components"][0]["custom_id"].split(":")[2])
                record = await bot.services.store.get_selfie(w.guild.id, selfie_id)
                queue_waits.append(float(record.parameters.get("queue_wait_s", 0.0)))
            first_waits, mean_waits = {}, {}
            for user in users:
                asked = sorted(snowflake_seconds(i) for i in sent[user.id])
                got = sorted(snowflake_seconds(m.id) for m in by_user[user.id] if m.files)
                if got:
                    first_waits[user.name] = round(got[0] - asked[0], 3)
                    mean_waits[user.name] = statistics.fmean(g - a for a, g in zip(asked, got, strict=False))
            duplicates = sum(max(0, len(by_user[u.id]) - len(sent[u.id])) for u in users)
            unanswered = sum(max(0, len(sent[u.id]) - len(by_user[u.id])) for u in users)
            pending = await bot.services.bot_store.pending_jobs()
            rss_after = rss_mb()
            await bot.drain(settings.shutdown_grace_s)
            await bot.close()
            with contextlib.suppress(asyncio.CancelledError, discord.DiscordException):
                await client
    waits = list(mean_waits.values())
    return {
        "machine": {"cpus": os.cpu_count(), "device": "cpu", "python": sys.version.split()[0]},
        "shape": {
            "users": args.users,
            "requests_per_user": args.requests,
            "personas": args.personas,
            "channels": args.channels,
            "spread_s": args.spread,
            "max_pending_per_user": settings.max_pending_per_user,
            "max_queue": settings.max_queue,
            "steps": settings.selfie_steps,
            "size": settings.selfie_size,
        },
        "requests": total,
        "answers": len(answers()),
        "pictures": len(pictures),
        "refusals": dict(refusals),
        "duplicates": duplicates,
        "unanswered": unanswered,
        "jobs_left_open": len(pending),
        "largest_queue_wait_s": round(max(queue_waits, default=0.0), 3),
        "first_picture_wait_s": {
            "min": min(first_waits.values(), default=0.0),
            "median": round(statistics.median(first_waits.values()), 3) if first_waits else 0.0,
            "max": max(first_waits.values(), default=0.0),
        },
        "fairness": {
            "jain_index_mean_wait": round(jain(waits), 3),
            "max_over_min_mean_wait": round(max(waits) / min(waits), 2) if waits and min(waits) > 0 else None,
            "users_with_a_picture": len(first_waits),
        },
        "total_s": round(elapsed, 2),
        "memory_mb": {"rss_before": rss_before, "rss_after": rss_after, "growth": round(rss_after - rss_before, 1)},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=5, help="selfie requests per user")
    parser.add_argument("--personas", type=int, default=3, choices=range(1, len(PERSONAS) + 1))
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--spread", type=float, default=2.0, help="seconds over which the requests arrive")
    parser.add_argument("--per-user", type=int, default=2, help="MAX_PENDING_PER_USER")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0 if result["duplicates"] == 0 and result["unanswered"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
