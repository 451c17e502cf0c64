"""Look versions end to end through the Discord stand-in: history, rollback with every field and file, reference
pictures added and removed, files kept while a version names them, and the admins' consistency report."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from personas.models import LOOK_FIELDS
from tests.bot.conftest import create_persona, eventually, png_bytes

RED, BLUE, GREEN = (200, 40, 40), (40, 40, 200), (40, 200, 40)


async def slash(standin, subcommand: str, *, group: str | None = None, user=None, attachments=None, **options):
    w = standin.default
    return await standin.invoke_slash(
        w.guild, w.general, user or w.admin, "persona", subcommand=subcommand, group=group, options=options,
        attachments=attachments,
    )  # fmt: skip


def look_of(persona) -> dict:
    return {name: getattr(persona, name) for name in LOOK_FIELDS}


async def test_edits_are_versions_and_rollback_restores_every_field_and_file(discord_standin, bots, kit):
    running = await bots()
    store, w = running.bot.services.store, discord_standin.default
    await create_persona(
        discord_standin, seed=1234, lora_scale=0.7,
        attachments={"reference": ("a.png", png_bytes(colour=RED), "image/png"),
                     "lora": ("one.safetensors", kit.loras[0].read_bytes(), "application/octet-stream")},
    )  # fmt: skip
    first = await store.get_persona(w.guild.id, "Mira")
    edit = await slash(
        discord_standin, "edit", name="Mira", appearance="short silver hair", seed=99, lora_scale=1.3,
        attachments={"reference": ("b.png", png_bytes(colour=BLUE), "image/png"),
                     "lora": ("two.safetensors", kit.loras[1].read_bytes(), "application/octet-stream")},
    )  # fmt: skip
    assert (await edit.wait_for_followup(timeout=20)).content.startswith("Updated")
    add = await slash(
        discord_standin, "add", group="reference", name="Mira",
        attachments={"picture": ("c.png", png_bytes(colour=GREEN), "image/png")},
    )  # fmt: skip
    assert "2 reference pictures" in (await add.wait_for_followup(timeout=20)).content
    edited = await store.get_persona(w.guild.id, "Mira")
    assert edited.version == 3 and len(await store.reference_paths(w.guild.id, edited.id)) == 2
    for path in (first.reference_path, first.lora_path):
        assert Path(path).is_file(), "a file an older version names stays"

    history = await (await slash(discord_standin, "history", name="Mira")).wait_for_response()
    text = history.data["content"]
    assert history.data["flags"] & 64
    assert text.index("**v3** (current)") < text.index("**v2**") < text.index("**v1**")
    assert f"<@{w.admin.id}>" in text and "created" in text and "added a reference picture" in text
    assert "appearance" in text and "LoRA scale" in text and "no scored selfies" in text

    rollback = await (await slash(discord_standin, "rollback", name="Mira", version=1)).wait_for_response()
    assert "looks like version 1 again (as version 4)" in rollback.data["content"]
    restored = await store.get_persona(w.guild.id, "Mira")
    assert restored.version == 4 and look_of(restored) == look_of(first)
    assert await store.reference_paths(w.guild.id, restored.id) == [first.reference_path]
    assert Path(restored.reference_path).read_bytes() == png_bytes(colour=RED)
    assert Path(restored.lora_path).read_bytes() == kit.loras[0].read_bytes()
    again = await (await slash(discord_standin, "rollback", name="Mira", version=4)).wait_for_response()
    assert "already looks exactly like version 4" in again.data["content"]
    missing = await (await slash(discord_standin, "rollback", name="Mira", version=9)).wait_for_response()
    assert "no look version 9" in missing.data["content"]


async def test_a_file_stays_while_any_version_or_persona_names_it(discord_standin, bots):
    running = await bots()
    store, w = running.bot.services.store, discord_standin.default
    await create_persona(discord_standin, attachments={"reference": ("a.png", png_bytes(colour=RED), "image/png")})
    add = await slash(
        discord_standin, "add", group="reference", name="Mira", main=True,
        attachments={"picture": ("b.png", png_bytes(colour=BLUE), "image/png")},
    )  # fmt: skip
    await add.wait_for_followup(timeout=20)
    mira = await store.get_persona(w.guild.id, "Mira")
    first, shared = await store.reference_paths(w.guild.id, mira.id)
    assert Path(first).read_bytes() == png_bytes(colour=BLUE), "main=True makes it picture 1"

    listing = await (await slash(discord_standin, "list", group="reference", name="Mira")).wait_for_response()
    assert "2 reference pictures" in listing.data["content"]
    assert Image.open(io.BytesIO(listing.files[0].data)).size == (256, 128)

    remove = await (
        await slash(discord_standin, "remove", group="reference", name="Mira", number=2)
    ).wait_for_response()
    assert "Removed reference picture 2" in remove.data["content"] and "1 left" in remove.data["content"]
    assert await store.reference_paths(w.guild.id, mira.id) == [first]
    assert Path(shared).is_file(), "the version before still names it"

    # Another persona uses the same picture (files are shared by content hash).
    await create_persona(
        discord_standin, name="Kenji", appearance="tall man, short black hair",
        attachments={"reference": ("same.png", png_bytes(colour=RED), "image/png")},
    )  # fmt: skip
    delete = await (await slash(discord_standin, "delete", name="Mira")).wait_for_response()
    assert "Deleted" in delete.data["content"]
    await eventually(lambda: not Path(first).exists())  # a file only Mira's versions named goes with her
    assert Path(shared).is_file(), "Kenji still uses it"


async def test_consistency_report_for_admins_with_chart(discord_standin, bots):
    running = await bots()
    store, w = running.bot.services.store, discord_standin.default
    await create_persona(discord_standin)
    mira = await store.get_persona(w.guild.id, "Mira")
    edited = await store.update_persona(w.guild.id, "Mira", seed=5, changed_by=w.admin.id)
    seeded = [(1, 0.9, "face", False), (1, 0.8, "face", False), (1, 0.7, "face", False), (1, 0.6, "face", False)]
    seeded += [(1, 0.5, "face", False), (2, 0.6, "face", False), (2, 0.3, "face", True), (2, 0.2, "clip", True)]
    for version, score, method, miss in seeded:
        await store.record_selfie(
            guild_id=w.guild.id, channel_id=w.general.id, persona_id=mira.id, persona_version=version,
            requester_id=w.member.id, prompt="p", negative="n", seed=1,
            parameters={"identity_score": score, "identity_method": method, "identity_miss": miss},
        )  # fmt: skip

    member = await slash(discord_standin, "consistency", user=w.member, name="Mira")
    assert "Manage Server" in (await member.wait_for_response()).data["content"], "members never see scores"

    report = await (await slash(discord_standin, "consistency", name="Mira")).wait_for_followup(timeout=20)
    assert report.payload.get("flags", 0) & 64
    current, before = report.content.split("\n")[1:3]
    assert current.startswith(f"**v{edited.version}** (current)")
    assert "2 selfies scored by face: mean 0.45, 10th percentile 0.33; 2 missed" in current
    assert "1 more scored by another method" in current
    assert (
        before.startswith("**v1**") and "5 selfies scored by face: mean 0.70, 10th percentile 0.54; 0 missed" in before
    )
    [chart] = report.files
    picture = Image.open(io.BytesIO(chart.data))
    assert chart.filename == "consistency.png" and picture.format == "PNG" and picture.width >= 400
    pixels = list(picture.convert("RGB").getdata())
    assert any(r > 180 and g < 80 and b < 80 for r, g, b in pixels), "misses drawn red"
    assert (230, 140, 20) in pixels and "IDENTITY_MIN_SCORE, is 0.5" in report.content, "the minimum is drawn"

    history = await (await slash(discord_standin, "history", name="Mira")).wait_for_response()
    assert "5 scored (face), mean 0.70" in history.data["content"]
    assert "2 scored (face), mean 0.45" in history.data["content"]
