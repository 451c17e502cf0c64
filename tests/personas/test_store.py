from __future__ import annotations

import sqlite3

import aiosqlite
import pytest

from personas.errors import PersonaError, PersonaNotFound
from personas.models import SceneState
from personas.storage.migrations import TRACKED_MARK, apply_migrations, schema_version
from personas.store import PERSONA_MIGRATIONS, TURNS_KEPT_PER_CONVERSATION, PersonaStore
from tests.personas.legacy_schema import LEGACY_MIGRATIONS, build_legacy_database

GUILD, OTHER_GUILD, CHANNEL = 111, 222, 5


async def record(store, guild_id, persona_id, **overrides) -> int:
    """A selfie record with placeholder values for whatever the test does not care about."""
    values = dict(persona_version=1, requester_id=None, prompt="p", negative="n", seed=1, parameters={})
    return await store.record_selfie(guild_id=guild_id, channel_id=CHANNEL, persona_id=persona_id, **values | overrides)


async def test_create_get_list_update(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="auburn hair", seed=7)
    assert mira.version == 1 and mira.seed == 7 and mira.created_at is not None
    assert (await store.get_persona(GUILD, "MIRA")).id == mira.id
    assert [p.name for p in await store.list_personas(GUILD)] == ["Mira"]

    renamed = await store.update_persona(GUILD, "mira", personality="shy", name="Mira Sol")
    assert renamed.version == 1, "personality does not change the look"
    looked = await store.update_persona(GUILD, "Mira Sol", appearance="short auburn hair")
    assert looked.version == 2 and looked.name == "Mira Sol"
    same = await store.update_persona(GUILD, "Mira Sol", appearance="short auburn hair")
    assert same.version == 2, "an unchanged value is not a new look"


async def test_names_unique_per_guild_including_lookalikes(store):
    await store.create_persona(GUILD, name="Mira", appearance="a")
    for clash in ("mira", " MIRA ", "Mіra", "Mi\u200bra"):  # Cyrillic і, zero-width space
        with pytest.raises(PersonaError):
            await store.create_persona(GUILD, name=clash, appearance="b")
    other = await store.create_persona(OTHER_GUILD, name="Mira", appearance="b")
    assert other.guild_id == OTHER_GUILD


async def test_guild_isolation(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    assert await store.get_persona(OTHER_GUILD, "Mira") is None
    assert await store.get_persona_by_id(OTHER_GUILD, mira.id) is None
    assert await store.list_personas(OTHER_GUILD) == []
    with pytest.raises(PersonaNotFound):
        await store.update_persona(OTHER_GUILD, "Mira", appearance="x")
    with pytest.raises(PersonaNotFound):
        await store.delete_persona(OTHER_GUILD, "Mira")
    with pytest.raises(PersonaNotFound):
        await store.activate(OTHER_GUILD, CHANNEL, mira.id)
    selfie = await record(store, GUILD, mira.id, requester_id=9, message_id=99)
    assert await store.get_selfie(OTHER_GUILD, selfie) is None
    assert await store.selfie_by_message(OTHER_GUILD, 99) is None


async def test_activations(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    kenji = await store.create_persona(GUILD, name="Kenji", appearance="b")
    await store.activate(GUILD, CHANNEL, mira.id)
    await store.activate(GUILD, CHANNEL, kenji.id)
    await store.activate(GUILD, CHANNEL, kenji.id)
    assert [p.name for p in await store.active_personas(GUILD, CHANNEL)] == ["Mira", "Kenji"]
    assert await store.active_personas(OTHER_GUILD, CHANNEL) == []
    assert await store.deactivate(GUILD, CHANNEL, mira.id) == 1
    assert [p.name for p in await store.active_personas(GUILD, CHANNEL)] == ["Kenji"]


async def test_turns_window_forget_and_restart(tmp_path):
    path = tmp_path / "bot.db"
    async with await PersonaStore.open(path) as store:
        mira = await store.create_persona(GUILD, name="Mira", appearance="a")
        await store.add_turn(GUILD, CHANNEL, mira.id, 1, "user", "hi from alice")
        await store.add_turn(GUILD, CHANNEL, mira.id, None, "persona", "hey alice")
        await store.add_turn(GUILD, CHANNEL, mira.id, 2, "user", "hi from bob")
        await store.add_turn(GUILD, CHANNEL, mira.id, None, "selfie", "sent a selfie: on a sandy beach")
        await store.save_scene(GUILD, CHANNEL, mira.id, SceneState(location="beach", props=["dog"]))
    async with await PersonaStore.open(path) as store:  # a restart keeps memory and scene
        turns = await store.recent_turns(GUILD, CHANNEL, mira.id)
        assert [t.content for t in turns] == [
            "hi from alice",
            "hey alice",
            "hi from bob",
            "sent a selfie: on a sandy beach",
        ]
        assert await store.get_scene(GUILD, CHANNEL, mira.id) == SceneState(location="beach", props=["dog"])
        assert await store.get_scene(OTHER_GUILD, CHANNEL, mira.id) == SceneState()
        assert await store.forget_user(OTHER_GUILD, 1) == 0
        assert await store.forget_user(GUILD, 1) == 1
        assert [t.author_id for t in await store.recent_turns(GUILD, CHANNEL, mira.id, limit=2)] == [2, None]
        assert [t.content for t in await store.recent_turns(GUILD, CHANNEL, mira.id)][0] == "hey alice"


async def test_turn_window_is_bounded(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    for index in range(TURNS_KEPT_PER_CONVERSATION + 5):
        await store.add_turn(GUILD, CHANNEL, mira.id, 1, "user", f"message {index}")
    turns = await store.recent_turns(GUILD, CHANNEL, mira.id, limit=1000)
    assert len(turns) == TURNS_KEPT_PER_CONVERSATION
    assert turns[-1].content == f"message {TURNS_KEPT_PER_CONVERSATION + 4}"


async def test_delete_cascades_in_one_go(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="a", reference_path="/data/ref/abc.png")
    kenji = await store.create_persona(GUILD, name="Kenji", appearance="b")
    await store.activate(GUILD, CHANNEL, mira.id)
    await store.add_turn(GUILD, CHANNEL, mira.id, 1, "user", "hi")
    await store.add_turn(GUILD, CHANNEL, kenji.id, 1, "user", "hi kenji")
    await store.save_scene(GUILD, CHANNEL, mira.id, SceneState(location="beach"))
    selfie = await record(store, GUILD, mira.id, requester_id=1, seed=3, parameters={"steps": 20})
    deleted = await store.delete_persona(GUILD, "mira")
    assert deleted.reference_path == "/data/ref/abc.png"
    assert await store.get_persona(GUILD, "Mira") is None
    assert await store.active_personas(GUILD, CHANNEL) == []
    assert await store.recent_turns(GUILD, CHANNEL, mira.id) == []
    assert await store.get_scene(GUILD, CHANNEL, mira.id) == SceneState()
    assert await store.get_selfie(GUILD, selfie) is None
    assert len(await store.recent_turns(GUILD, CHANNEL, kenji.id)) == 1
    assert not await store.persona_files_in_use("/data/ref/abc.png")


async def test_selfies(store):
    mira = await store.create_persona(GUILD, name="Mira", appearance="a")
    params = {"model": "demo", "steps": 4, "guidance": 5.0, "width": 64, "height": 64, "lora_scale": None}
    selfie_id = await store.record_selfie(
        guild_id=GUILD,
        channel_id=CHANNEL,
        persona_id=mira.id,
        persona_version=mira.version,
        requester_id=42,
        prompt="prompt",
        negative="neg",
        seed=123,
        parameters=params,
    )
    await store.set_selfie_message(GUILD, selfie_id, 777)
    record = await store.selfie_by_message(GUILD, 777)
    assert record.id == selfie_id and record.parameters == params and record.seed == 123
    assert record.requester_id == 42 and record.created_at is not None
    assert await store.selfie_count(GUILD, mira.id) == 1


async def test_wal_mode(store, tmp_path):
    async with aiosqlite.connect(tmp_path / "selfiebot.db") as conn:
        async with conn.execute("PRAGMA journal_mode") as cursor:
            assert (await cursor.fetchone())[0] == "wal"


async def test_migrations_from_empty(tmp_path):
    async with await PersonaStore.open(tmp_path / "fresh.db"):
        pass
    async with aiosqlite.connect(tmp_path / "fresh.db") as conn:
        assert await schema_version(conn, PERSONA_MIGRATIONS) == len(PERSONA_MIGRATIONS.available())
        async with conn.execute("PRAGMA user_version") as cursor:  # an older selfiebot refuses, not re-migrates
            assert (await cursor.fetchone())[0] == TRACKED_MARK


async def _still_works(store: PersonaStore) -> None:
    old = await store.get_persona(1, "old")
    assert old is not None and old.appearance == "old look" and old.lora_trigger == ""
    mira = await store.create_persona(1, name="Mira", appearance="a", lora_trigger="mira_v1")
    await store.add_turn(1, CHANNEL, mira.id, 1, "user", "hi")
    selfie = await record(store, 1, mira.id)
    await store.set_selfie_message(1, selfie, 5)
    assert (await store.get_selfie(1, selfie)).message_id == 5
    assert (await store.get_persona(1, "mira")).lora_trigger == "mira_v1"


OLD_PERSONA = (
    "INSERT INTO personas (guild_id, name, name_key, appearance, seed, created_at, updated_at)"
    " VALUES (1, 'Old', 'old', 'old look', 5, '2024-01-01T00:00:00+00:00', '2024-01-01T00:00:00+00:00')"
)


@pytest.mark.parametrize("start", range(1, len(PERSONA_MIGRATIONS.available())))
async def test_migrations_from_every_previous_version(tmp_path, start):
    path = tmp_path / f"v{start}.db"
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await apply_migrations(conn, PERSONA_MIGRATIONS, target=start) == start
        await conn.execute(OLD_PERSONA)
    async with await PersonaStore.open(path) as store:
        await _still_works(store)


@pytest.mark.parametrize("user_version", range(1, len(LEGACY_MIGRATIONS) + 1))
async def test_a_database_numbered_in_user_version_is_adopted_in_place(tmp_path, user_version):
    """Before each package had its own migrations, PRAGMA user_version 1-4 numbered the whole file."""
    path = tmp_path / f"legacy{user_version}.db"
    with build_legacy_database(path, user_version) as conn:
        conn.execute(OLD_PERSONA)
    conn.close()
    async with await PersonaStore.open(path) as store:
        await _still_works(store)
    async with await PersonaStore.open(path) as store:  # and a second start finds everything in place
        assert [p.name for p in await store.list_personas(1)] == ["Mira", "Old"]


async def test_a_failed_change_leaves_nothing_behind(store):
    await store.create_persona(GUILD, name="Mira", appearance="a")
    with pytest.raises(PersonaError):
        await store.create_persona(GUILD, name="Kenji", appearance="x" * 5000)
    with pytest.raises(sqlite3.IntegrityError):
        await store.add_turn(GUILD, CHANNEL, 9999, 1, "user", "no such persona")
    assert [p.name for p in await store.list_personas(GUILD)] == ["Mira"]
    assert await store.recent_turns(GUILD, CHANNEL, 9999) == []


async def test_two_stores_on_one_file_wait_for_each_other(tmp_path):
    path = tmp_path / "shared.db"
    async with await PersonaStore.open(path) as first, await PersonaStore.open(path) as second:
        mira = await first.create_persona(GUILD, name="Mira", appearance="a")
        for index in range(10):
            await first.add_turn(GUILD, CHANNEL, mira.id, 1, "user", f"a{index}")
            await second.add_turn(GUILD, CHANNEL, mira.id, 2, "user", f"b{index}")
        assert len(await second.recent_turns(GUILD, CHANNEL, mira.id, limit=100)) == 20
