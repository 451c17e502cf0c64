"""`/persona ...` end to end: attachments, permissions, guild isolation, import/export, command sync."""

from __future__ import annotations

from pathlib import Path

from personas.files import load_persona_file
from tests.bot.conftest import activate, assert_png, create_persona, png_bytes


async def test_create_with_reference_and_lora_then_show(discord_standin, bots, kit):
    running = await bots()
    w = discord_standin.default
    lora = kit.loras[0].read_bytes()
    await create_persona(
        discord_standin,
        personality="Warm, playful illustrator.",
        seed=1234,
        lora_scale=0.7,
        attachments={
            "reference": ("face.png", png_bytes(), "image/png"),
            "lora": ("mira.safetensors", lora, "application/octet-stream"),
        },
    )
    persona = await running.bot.services.store.get_persona(w.guild.id, "mira")
    assert persona is not None and persona.seed == 1234 and persona.lora_scale == 0.7
    data_dir = running.bot.services.settings.data_dir
    assert Path(persona.reference_path).parent == data_dir / "references"
    assert Path(persona.reference_path).name.startswith(persona.reference_hash)
    assert Path(persona.lora_path) == data_dir / "loras" / f"{persona.lora_hash}.safetensors"

    show = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="show", options={"name": "Mira"}
    )
    response = await show.wait_for_response()
    assert response.data["flags"] & 64
    embed = response.data["embeds"][0]
    assert embed["title"] == "Mira" and embed["thumbnail"]["url"].startswith("attachment://reference")
    assert response.files and response.files[0].filename.startswith("reference")
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["Seed"].startswith("1234") and persona.lora_hash[:12] in fields["LoRA"]

    choices = await discord_standin.invoke_autocomplete(
        w.guild, w.general, w.admin, "persona", subcommand="show", focused="name", value="mi"
    )
    answer = await choices.wait_for_response()
    assert [c["name"] for c in answer.data["choices"]] == ["Mira"]


async def test_bad_uploads_store_nothing(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    pickle = b"\x80\x04\x95" + b"\x00" * 64
    cases = [
        ({"lora": ("evil.safetensors", pickle, "application/octet-stream")}, "safetensors"),
        ({"lora": ("model.ckpt", pickle, "application/octet-stream")}, ".safetensors"),
        ({"reference": ("face.png", b"not an image at all", "image/png")}, "image"),
    ]
    for attachments, expected in cases:
        handle = await discord_standin.invoke_slash(
            w.guild, w.general, w.admin, "persona", subcommand="create",
            options={"name": "Mira", "appearance": "a woman"}, attachments=attachments,
        )  # fmt: skip
        reply = await handle.wait_for_followup(timeout=10)
        assert expected in reply.content and reply.payload.get("flags", 0) & 64, reply.content
    assert await running.bot.services.store.list_personas(w.guild.id) == []
    data_dir = running.bot.services.settings.data_dir
    assert not list((data_dir / "loras").glob("*")) and not list((data_dir / "references").glob("*"))


async def test_non_admin_is_refused(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.member, "persona", subcommand="create", options={"name": "Mira", "appearance": "a woman"}
    )
    response = await handle.wait_for_response()
    assert response.data["flags"] & 64 and "Manage Server" in response.data["content"]
    assert await running.bot.services.store.list_personas(w.guild.id) == []


async def test_another_guild_cannot_use_the_persona(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    for subcommand in ("show", "activate", "delete"):
        handle = await discord_standin.invoke_slash(
            w.other_guild, w.other_general, w.admin, "persona", subcommand=subcommand, options={"name": "Mira"}
        )
        response = await handle.wait_for_response()
        assert "no persona called “Mira”" in response.data["content"], response.data
    handle = await discord_standin.invoke_slash(
        w.other_guild, w.other_general, w.member, "selfie", options={"persona": "Mira"}
    )
    reply = await handle.wait_for_followup()
    assert "no persona called" in reply.content
    choices = await discord_standin.invoke_autocomplete(
        w.other_guild, w.other_general, w.admin, "persona", subcommand="show", focused="name", value=""
    )
    assert (await choices.wait_for_response()).data["choices"] == []


async def test_export_import_round_trip_and_delete(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin, personality='Says "hi" a lot.\nLoves tea.', seed=99)
    export = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="export", options={"name": "Mira"}
    )
    exported = (await export.wait_for_response()).files[0]
    spec = load_persona_file(exported.data.decode())
    assert spec.name == "Mira" and spec.seed == 99 and spec.reference is None

    delete = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="delete", options={"name": "Mira"}
    )
    assert "Deleted" in (await delete.wait_for_response()).data["content"]
    assert await running.bot.services.store.list_personas(w.guild.id) == []

    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="import",
        attachments={"file": ("mira.toml", exported.data, "application/toml")},
    )  # fmt: skip
    assert (await handle.wait_for_followup()).content.startswith("Imported **Mira**")
    again = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    assert again.seed == 99 and again.personality == spec.personality


async def test_commands_sync_once_per_payload(discord_standin, bots, tmp_path):
    first = await bots()
    assert first.bot.synced_commands and discord_standin.command_put_count == 1
    names = {c["name"] for c in discord_standin.commands[None]}
    assert {"persona", "selfie", "forget"} <= names
    await first.stop()
    second = await bots()
    assert not second.bot.synced_commands and discord_standin.command_put_count == 1


async def test_edit_bumps_the_version_and_preview_is_a_two_by_two_grid(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    edit = await discord_standin.invoke_slash(
        w.guild,
        w.general,
        w.admin,
        "persona",
        subcommand="edit",
        options={"name": "Mira", "appearance": "a tall woman"},
    )
    assert (await edit.wait_for_followup()).content.startswith("Updated")
    persona = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    assert persona.version == 2 and persona.appearance == "a tall woman"

    preview = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="preview", options={"name": "Mira"}
    )
    shown = await preview.wait_for_followup(timeout=20)
    assert shown.payload.get("flags", 0) & 64
    assert_png(shown.files[0].data, size=128)
