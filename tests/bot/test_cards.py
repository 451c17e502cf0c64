"""Character cards through the Discord stand-in: `/persona import` of every card version (built here in code),
the picture offered as the reference, the greeting on first activation, export -> import round trip, the prompt
style, and hostile cards refused with one sentence and nothing stored."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from pathlib import Path

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from bot.cards_greeting import greeted_key
from bot.messages import user_message
from personas.cards import DEFAULT_LIMITS, CardContainer, CardVersion, read_card
from personas.cards.png import card_text_chunks, read_chunks
from personas.errors import CardError
from tests.bot.conftest import activate, create_persona, eventually, is_picture, selfie_of

DESCRIPTION = (
    "{{char}} is a 26-year-old woman with long, wavy silver hair and green eyes. She is tall and slender and usually "
    "wears a black leather jacket. She teases {{user}} but is loyal."
)
SCENARIO = "{{char}} sits in a cozy cafe on a rainy evening, waiting for {{user}}."


def picture(colour: tuple[int, int, int] = (200, 80, 40), info: PngInfo | None = None, size: int = 96) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def b64json(document: dict) -> str:
    return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")


def png_card(colour: tuple[int, int, int] = (200, 80, 40), size: int = 96, **chunks: str) -> bytes:
    """A card PNG written by Pillow (independent of our writer) with the given tEXt chunks."""
    info = PngInfo()
    for keyword, value in chunks.items():
        info.add_text(keyword, value)
    return picture(colour, info, size)


def v2(**fields) -> dict:
    data = {"name": "Mira", "description": DESCRIPTION, "personality": "playful, warm", "scenario": SCENARIO,
            "first_mes": "*waves at {{user}}* hey, I'm {{char}}!", "mes_example": "", "creator_notes": "",
            "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [], "tags": ["oc"],
            "creator": "someone", "character_version": "1", "extensions": {}, **fields}  # fmt: skip
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}


def v3(**fields) -> dict:
    card = v2(**fields)
    card["data"].update(group_only_greetings=[], creation_date=1700000000, **fields)
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": card["data"]}


def charx(card: dict, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card))
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


async def import_file(standin, filename: str, data: bytes, content_type: str, **options):
    w = standin.default
    handle = await standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="import", options=options,
        attachments={"file": (filename, data, content_type)},
    )  # fmt: skip
    return await handle.wait_for_followup(timeout=30)


def button(message, label: str) -> str:
    for row in message.components:
        for component in row.get("components", []):
            if component.get("label") == label:
                return component["custom_id"]
    raise AssertionError(f"no button {label!r} on {message.content!r}")


async def choose(standin, message, label: str) -> str:
    """Press a button under the import answer; returns the answer's text after the bot edited it."""
    edits = len(message.edits)
    await standin.click_button(message, button(message, label), standin.default.admin)
    await eventually(lambda: len(message.edits) > edits, timeout=20)
    assert message.components == []  # the choice is made once
    return message.content


def stored_files(running) -> list[Path]:
    data_dir = running.bot.services.settings.data_dir
    return sorted(p for folder in ("references", "loras") for p in (data_dir / folder).glob("*") if p.is_file())


# --- every card version ------------------------------------------------------------------------------------------


async def test_v2_png_card_with_its_picture_confirmed_as_the_reference(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    card = v2(extensions={"sd_character_prompt": {"positive": "1girl, silver hair, green eyes", "negative": "lowres"},
                          "talkativeness": "0.5"})  # fmt: skip
    answer = await import_file(discord_standin, "mira.png", png_card(chara=b64json(card)), "image/png")
    assert answer.content.startswith("Imported **Mira** from a V2 character card (png).")
    assert "reference too?" in answer.content and answer.files[0].filename == "card.png"

    store = running.bot.services.store
    persona = await store.get_persona(w.guild.id, "Mira")
    assert persona.appearance == "1girl, silver hair, green eyes" and persona.negative == "lowres"
    assert persona.greeting == "*waves at you* hey, I'm Mira!" and "cozy cafe" in persona.scenario
    assert persona.card_extras["extensions"]["talkativeness"] == "0.5"  # kept for a lossless export
    assert persona.reference_path is None  # not before the admin says so

    text = await choose(discord_standin, answer, "Use the card picture as the reference")
    assert "now uses the card picture as its reference" in text
    persona = await store.get_persona(w.guild.id, "Mira")
    # The reference is the card's picture without its text chunks: the pixels the card shows.
    assert persona.reference_hash and Path(persona.reference_path).is_file()
    stored = Image.open(persona.reference_path)
    assert stored.size == (96, 96) and stored.getpixel((0, 0)) == (200, 80, 40)
    assert b"chara" not in Path(persona.reference_path).read_bytes()


async def test_v3_png_with_both_chunks_reads_the_v3_card(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    old = v2(name="Old Name", first_mes="old hello")
    new = v3(nickname="Mimi", first_mes="hi from {{char}}")
    answer = await import_file(
        discord_standin, "card.png", png_card(chara=b64json(old), ccv3=b64json(new)), "image/png"
    )
    assert answer.content.startswith("Imported **Mimi** from a V3 character card (png).")
    assert await choose(discord_standin, answer, "No") == "Kept **Mimi** without a reference."
    persona = await running.bot.services.store.get_persona(w.guild.id, "Mimi")
    assert persona.greeting == "hi from Mimi" and persona.reference_path is None
    assert await running.bot.services.store.get_persona(w.guild.id, "Old Name") is None
    assert stored_files(running) == []


async def test_card_json_is_told_by_its_content_not_its_name(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    data = json.dumps(v3(name="Juno", description="{{char}} has short red hair and freckles.")).encode()
    answer = await import_file(discord_standin, "juno.txt", data, "text/plain")
    assert answer.content.startswith("Imported **Juno** from a V3 character card (json).")
    assert answer.components == [] and answer.files == []  # no picture, nothing to offer
    persona = await running.bot.services.store.get_persona(w.guild.id, "Juno")
    assert "short red hair" in persona.appearance and "freckles" in persona.appearance

    v1 = {"name": "Nova", "description": "{{char}} has long black hair.", "first_mes": "Hello, {{user}}."}
    card = png_card(size=8, chara=b64json(v1))  # a picture too small to be a reference: said, not offered
    answer = await import_file(discord_standin, "nova.bin", card, "application/octet-stream")
    assert answer.content.startswith("Imported **Nova** from a V1 character card (png).")
    assert "The card picture is too small" in answer.content and answer.components == []
    assert (await running.bot.services.store.get_persona(w.guild.id, "Nova")).greeting == "Hello, you."


async def test_charx_with_a_lora_asset_checked_like_an_upload(discord_standin, bots, kit):
    running = await bots()
    w = discord_standin.default
    lora = kit.loras[0].read_bytes()
    card = v3(name="Ivy", assets=[
        {"type": "icon", "uri": "embeded://assets/icon/main.png", "name": "main", "ext": "png"},
        {"type": "lora", "uri": "embeded://assets/ai/ivy.safetensors", "name": "ivy", "ext": "safetensors"},
    ])  # fmt: skip
    data = charx(card, {"assets/icon/main.png": picture((20, 140, 90)), "assets/ai/ivy.safetensors": lora})
    answer = await import_file(discord_standin, "ivy.zip", data, "application/zip")
    assert answer.content.startswith("Imported **Ivy** from a V3 character card (charx).")
    assert "Its LoRA came with the card." in answer.content
    persona = await running.bot.services.store.get_persona(w.guild.id, "Ivy")
    assert persona.lora_hash == hashlib.sha256(lora).hexdigest()
    assert Path(persona.lora_path).read_bytes() == lora

    # A LoRA that is no safetensors file is refused like an upload, and nothing of the card is kept.
    bad = charx(v3(name="Bad"), {"assets/ai/bad.safetensors": b"\x00" * 64})
    answer = await import_file(discord_standin, "bad.charx", bad, "application/zip")
    assert answer.content == "That LoRA file is not a valid .safetensors file; export it as .safetensors."
    assert await running.bot.services.store.get_persona(w.guild.id, "Bad") is None
    assert [p.name for p in stored_files(running)] == [Path(persona.lora_path).name]


# --- greeting on first activation --------------------------------------------------------------------------------


async def test_greeting_is_posted_once_when_first_activated_in_a_channel(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await import_file(discord_standin, "mira.json", json.dumps(v2()).encode(), "application/json")
    await activate(discord_standin, w.general)
    greeting = await discord_standin.wait_for_message(lambda m: m.source == "webhook" and "hey, I'm Mira" in m.content)
    assert greeting.author_name == "Mira" and greeting.channel_id == w.general.id

    services = running.bot.services
    persona = await services.store.get_persona(w.guild.id, "Mira")
    turns = await services.store.recent_turns(w.guild.id, w.general.id, persona.id)
    assert [(t.role, t.content) for t in turns] == [("persona", persona.greeting)]
    scene = await services.store.get_scene(w.guild.id, w.general.id, persona.id)
    assert (scene.location, scene.time_of_day) == ("cozy cafe", "evening")  # the scenario's scene cues

    for command in ("deactivate", "activate"):  # away and back: no second greeting
        handle = await discord_standin.invoke_slash(
            w.guild, w.general, w.admin, "persona", subcommand=command, options={"name": "Mira"}
        )
        await handle.wait_for_response()
    await activate(discord_standin, w.nsfw)  # another channel: greeted there too
    await eventually(lambda: len(greetings(discord_standin)) == 2)
    assert [m.channel_id for m in greetings(discord_standin)] == [w.general.id, w.nsfw.id]
    assert await services.bot_store.get_meta(greeted_key(w.guild.id, w.general.id, persona.id))


def greetings(standin):
    return [m for m in standin.messages if m.source == "webhook" and "hey, I'm Mira" in m.content]


# --- export and round trip ---------------------------------------------------------------------------------------

MIRA_TOML = """
name = "Mira"
appearance = "young woman, wavy auburn hair, green eyes, freckles"
personality = "Warm, playful illustrator."
seed = 99
seed_mode = "varied"
negative = "cartoon"
style = "film photo"
lora_trigger = "mirasks"
ip_scale = 0.45
nsfw = true
prompt_style = "tags"
greeting = "Hi! I just got back from the market."
scenario = "A sunny afternoon at the harbour."
"""
SAME = ("name", "appearance", "personality", "seed", "seed_mode", "negative", "style", "lora_scale", "lora_trigger",
        "ip_scale", "nsfw", "prompt_style", "greeting", "scenario", "reference_hash")  # fmt: skip


async def test_export_offers_a_v3_card_that_imports_back_to_the_same_persona(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    store = running.bot.services.store
    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="import",
        attachments={"file": ("mira.toml", MIRA_TOML.encode(), "application/toml"),
                     "reference": ("face.png", picture((90, 60, 200)), "image/png")},
    )  # fmt: skip
    assert (await handle.wait_for_followup(timeout=30)).content.startswith("Imported **Mira**")
    before = await store.get_persona(w.guild.id, "Mira")
    assert before.prompt_style == "tags" and before.greeting.startswith("Hi!") and before.reference_hash

    export = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="export", options={"name": "Mira"}
    )
    toml, card_png = (await export.wait_for_response()).files
    assert toml.filename == "Mira.toml" and 'prompt_style = "tags"' in toml.data.decode()
    assert card_png.filename == "Mira.png"
    assert set(card_text_chunks(read_chunks(card_png.data, DEFAULT_LIMITS))) == {"chara", "ccv3"}
    card = read_card(card_png.data)
    assert card.version is CardVersion.V3 and card.container is CardContainer.PNG
    assert card.extensions["selfiebot"]["seed"] == 99 and "reference_path" not in json.dumps(card.document)

    delete = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="delete", options={"name": "Mira"}
    )
    await delete.wait_for_response()
    answer = await import_file(discord_standin, "Mira.png", card_png.data, "image/png")
    assert answer.content.startswith("Imported **Mira** from a V3 character card (png).")
    await choose(discord_standin, answer, "Use the card picture as the reference")
    after = await store.get_persona(w.guild.id, "Mira")
    assert {key: getattr(after, key) for key in SAME} == {key: getattr(before, key) for key in SAME}


async def test_a_persona_without_a_reference_exports_a_placeholder_picture(discord_standin, bots):
    await bots()
    w = discord_standin.default
    await create_persona(discord_standin)
    export = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="export", options={"name": "Mira"}
    )
    card_png = (await export.wait_for_response()).files[1]
    card = read_card(card_png.data)
    assert card.fields["name"] == "Mira"
    assert Image.open(io.BytesIO(card.picture.data)).size == (384, 512)


# --- prompt style ------------------------------------------------------------------------------------------------


async def test_prompt_style_from_the_bot_setting_and_per_persona(discord_standin, bots):
    running = await bots(prompt_style="tags")
    w = discord_standin.default
    await create_persona(discord_standin)
    await activate(discord_standin, w.general)
    await discord_standin.user_says(w.general, w.member, "Mira, selfie please?")
    tagged = await discord_standin.wait_for_message(is_picture, timeout=30)
    assert (await selfie_of(running.bot, tagged)).prompt.startswith("1girl, solo")

    edit = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="edit", options={"name": "Mira", "prompt_style": "natural"}
    )
    assert (await edit.wait_for_followup()).content.startswith("Updated")
    persona = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    assert persona.prompt_style == "natural" and persona.version == 2
    await discord_standin.user_says(w.general, w.member, "Mira, another selfie please?")
    await eventually(lambda: len([m for m in discord_standin.messages if is_picture(m)]) == 2, timeout=30)
    natural = [m for m in discord_standin.messages if is_picture(m)][-1]
    assert not (await selfie_of(running.bot, natural)).prompt.startswith("1girl")


# --- hostile cards -----------------------------------------------------------------------------------------------


def zip_bomb() -> bytes:
    return charx(v3(), {"assets/other/zeros.bin": bytes(20 * 1024 * 1024)})


HOSTILE = {
    "bomb": (zip_bomb, "card.charx", {}),
    "bad base64": (lambda: png_card(ccv3="not base64 at all!!"), "card.png", {}),
    "minor and NSFW": (
        lambda: json.dumps(v2(description="{{char}} is a 16-year-old girl with short black hair.")).encode(),
        "card.json",
        {"nsfw": True},
    ),
    "minor in our own block": (
        lambda: json.dumps(
            v3(
                description="{{char}} is a 15-year-old schoolgirl.",
                extensions={"selfiebot": {"appearance": "a woman with black hair", "nsfw": True}},
            )  # fmt: skip
        ).encode(),
        "card.json",
        {},
    ),
}


async def test_hostile_cards_are_refused_with_one_sentence_and_nothing_stored(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    expected = {
        "bomb": user_message(CardError("", problem="compression_bomb")),
        "bad base64": user_message(CardError("", problem="bad_base64")),
    }
    for label, (build, filename, options) in HOSTILE.items():
        answer = await import_file(discord_standin, filename, build(), "application/octet-stream", **options)
        sentence = answer.content
        assert sentence.count(". ") == 0 and sentence.endswith(".") and "\n" not in sentence, (label, sentence)
        if label in expected:
            assert sentence == expected[label], label
        else:
            assert "minor" in sentence and "NSFW" in sentence, (label, sentence)
        assert answer.components == [] and answer.files == []
    big_toml = ('name = "Big"\nappearance = "x"\npersonality = "' + "a" * 70_000 + '"\n').encode()
    answer = await import_file(discord_standin, "big.toml", big_toml, "application/toml")
    assert answer.content == "A persona file (TOML) can be at most 64 KiB; that one is larger."
    assert await running.bot.services.store.list_personas(w.guild.id) == []
    assert stored_files(running) == []
