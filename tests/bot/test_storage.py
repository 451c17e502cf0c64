"""`BotStore` on a real SQLite file: webhooks, command-sync metadata, the job queue, and databases from before the
bot had its own migrations (PRAGMA user_version 1-4) adopted in place with every row."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import aiosqlite
import pytest

from bot.storage import BOT_MIGRATIONS, BotStore, JobKind, JobState
from personas.storage.migrations import apply_migrations, schema_version
from personas.store import PERSONA_MIGRATIONS, PersonaStore
from tests.personas.legacy_schema import LEGACY_MIGRATIONS, build_legacy_database

GUILD, OTHER_GUILD, CHANNEL = 111, 222, 5


@pytest.fixture
async def stores(tmp_path):
    async with await PersonaStore.open(tmp_path / "selfiebot.db") as store:
        yield store, await BotStore.on(store.database)


def job(persona_id: int, source_id: int, **overrides):
    values = dict(source_kind=JobKind.CHAT, source_id=source_id, guild_id=GUILD, channel_id=CHANNEL)
    return values | dict(persona_id=persona_id, requester_id=1, request_text="selfie pls") | overrides


async def selfie(store: PersonaStore, guild_id: int, persona_id: int) -> int:
    return await store.record_selfie(
        guild_id=guild_id,
        channel_id=CHANNEL,
        persona_id=persona_id,
        persona_version=1,
        requester_id=1,
        prompt="p",
        negative="n",
        seed=1,
        parameters={},
    )


async def test_webhooks_and_meta(stores):
    _, bot_store = stores
    await bot_store.save_webhook(GUILD, CHANNEL, 1, "tok")
    await bot_store.save_webhook(GUILD, CHANNEL, 2, "tok2")
    assert await bot_store.get_webhook(GUILD, CHANNEL) == (2, "tok2")
    assert await bot_store.get_webhook(OTHER_GUILD, CHANNEL) is None
    await bot_store.delete_webhook(GUILD, CHANNEL)
    assert await bot_store.get_webhook(GUILD, CHANNEL) is None

    assert await bot_store.get_meta("tree-hash") is None
    await bot_store.set_meta("tree-hash", "abc")
    await bot_store.set_meta("tree-hash", "def")
    assert await bot_store.get_meta("tree-hash") == "def"


async def test_a_job_is_claimed_posted_and_settled_once(stores):
    store, bot_store = stores
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    job_id = await bot_store.enqueue_job(**job(mira.id, 77))
    assert job_id is not None and await bot_store.enqueue_job(**job(mira.id, 77, request_text="again")) is None
    (pending,) = await bot_store.pending_jobs()
    assert pending.state is JobState.QUEUED and pending.source_kind is JobKind.CHAT and pending.attempts == 0
    assert await bot_store.claim_job(job_id, 0) and not await bot_store.claim_job(job_id, 0)
    selfie_id = await selfie(store, GUILD, mira.id)
    assert await bot_store.mark_job_posting(job_id, selfie_id)
    assert not await bot_store.mark_job_posting(job_id, selfie_id), "posting twice must be refused"
    assert await bot_store.mark_job_done(job_id, 555)
    assert not await bot_store.mark_job_failed(job_id, "late"), "a settled job stays settled"
    done = await bot_store.get_job(job_id)
    assert done.state is JobState.DONE and done.answer_message_id == 555 and done.attempts == 1
    assert (await store.get_selfie(GUILD, selfie_id)).message_id == 555  # in the same transaction as "done"
    assert await bot_store.pending_jobs() == []


async def test_another_take_is_its_own_kind(stores):
    store, bot_store = stores
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    slash = await bot_store.enqueue_job(**job(mira.id, 90, source_kind=JobKind.SLASH))
    retake = await bot_store.enqueue_job(**job(mira.id, 91, source_kind=JobKind.RETAKE, request_text="take"))
    assert await bot_store.mark_job_failed(slash, "refused: " + "x" * 900)
    assert (await bot_store.get_job(retake)).source_kind is JobKind.RETAKE
    failed = await bot_store.get_job(slash)
    assert failed.state is JobState.FAILED and len(failed.outcome) == 500
    assert [j.id for j in await bot_store.pending_jobs()] == [retake]
    with pytest.raises(ValueError):
        await bot_store.enqueue_job(**job(mira.id, 92, source_kind="button"))


@pytest.mark.parametrize("start", range(1, len(BOT_MIGRATIONS.available())))
async def test_migrations_from_every_previous_version(tmp_path, start):
    path = tmp_path / f"bot{start}.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await apply_migrations(conn, BOT_MIGRATIONS, target=start) == start
        await conn.execute("INSERT INTO meta (key, value) VALUES ('command_tree_hash', 'old')")
    async with await PersonaStore.open(path) as store:
        bot_store = await BotStore.on(store.database)
        assert await bot_store.get_meta("command_tree_hash") == "old"
        mira = await store.create_persona(1, name="Mira", appearance="a")
        job_id = await bot_store.enqueue_job(**job(mira.id, 5, guild_id=1, source_kind=JobKind.RETAKE))
        assert (await bot_store.get_job(job_id)).source_kind is JobKind.RETAKE
    async with aiosqlite.connect(path) as conn:
        assert await schema_version(conn, BOT_MIGRATIONS) == len(BOT_MIGRATIONS.available())


@pytest.mark.parametrize("user_version", range(1, len(LEGACY_MIGRATIONS) + 1))
async def test_a_database_numbered_in_user_version_keeps_working_for_jobs(tmp_path, user_version):
    path = tmp_path / f"legacy{user_version}.db"
    build_legacy_database(path, user_version).close()
    async with await PersonaStore.open(path) as store:
        bot_store = await BotStore.on(store.database)
        mira = await store.create_persona(1, name="Mira", appearance="a")
        await store.add_turn(1, CHANNEL, mira.id, 1, "user", "hi")
        selfie_id = await selfie(store, 1, mira.id)
        job_id = await bot_store.enqueue_job(**job(mira.id, 77, guild_id=1))  # the job queue came with version 4
        assert job_id is not None and await bot_store.enqueue_job(**job(mira.id, 77, guild_id=1)) is None
        assert await bot_store.mark_job_posting(job_id, selfie_id) and await bot_store.mark_job_done(job_id, 5)
        assert (await store.get_selfie(1, selfie_id)).message_id == 5 and await bot_store.pending_jobs() == []


async def test_a_version_4_database_keeps_its_webhooks_meta_and_jobs(tmp_path):
    """The last database before the split, with rows in every bot table: all of them are found by BotStore."""
    path = tmp_path / "v4.db"
    created = "2024-05-01T12:00:00+00:00"
    with build_legacy_database(path, 4) as conn:
        conn.execute(
            "INSERT INTO personas (guild_id, name, name_key, appearance, seed, created_at, updated_at)"
            " VALUES (?, 'Mira', 'mira', 'auburn hair', 5, ?, ?)",
            (GUILD, created, created),
        )
        conn.execute("INSERT INTO meta (key, value) VALUES ('command_tree_hash', '42:abc')")
        conn.execute("INSERT INTO webhooks VALUES (?, ?, 9001, 'secret-token', ?)", (GUILD, CHANNEL, created))
        conn.executemany(
            "INSERT INTO selfie_jobs (source_kind, source_id, guild_id, channel_id, persona_id, requester_id,"
            " request_text, state, attempts, outcome, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 7, ?, ?, ?, ?, ?, ?)",
            [
                ("chat", 1001, GUILD, CHANNEL, "selfie pls", "queued", 0, None, created, created),
                ("slash", 1002, GUILD, CHANNEL, "take", "posting", 1, None, created, created),
                ("chat", 1003, GUILD, CHANNEL, "pic?", "failed", 1, "declined: minor", created, created),
            ],
        )
    conn.close()

    async with await PersonaStore.open(path) as store:
        bot_store = await BotStore.on(store.database)
        assert (await store.get_persona(GUILD, "mira")).appearance == "auburn hair"
        assert await bot_store.get_meta("command_tree_hash") == "42:abc"
        assert await bot_store.get_webhook(GUILD, CHANNEL) == (9001, "secret-token")
        pending = await bot_store.pending_jobs()
        assert [(j.source_id, j.source_kind, j.state) for j in pending] == [
            (1001, JobKind.CHAT, JobState.QUEUED),
            (1002, JobKind.SLASH, JobState.POSTING),  # an old "Another take" row reads as the slash it was
        ]
        assert pending[0].created_at == datetime(2024, 5, 1, 12, tzinfo=UTC) and pending[1].attempts == 1
        failed = await bot_store.get_job(3)
        assert failed.state is JobState.FAILED and failed.outcome == "declined: minor"
        assert await bot_store.enqueue_job(**job(1, 1001)) is None, "the old row still de-duplicates its message"
        assert await bot_store.claim_job(pending[0].id, 0)

    raw = sqlite3.connect(str(path))
    try:
        versions = dict(raw.execute("SELECT owner, version FROM schema_versions"))
        newest = {"personas": len(PERSONA_MIGRATIONS.available()), "bot": len(BOT_MIGRATIONS.available())}
        assert versions == {"legacy": 4, **newest}
        assert raw.execute("SELECT COUNT(*) FROM selfie_jobs").fetchone()[0] == 3
    finally:
        raw.close()
