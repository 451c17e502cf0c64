"""Bad input to `/persona create|edit`, end to end: one clear ephemeral sentence back, nothing stored, nothing changed.

Each case is a tiny file built here (Pillow, safetensors, pickle bytes) and uploaded through the Discord stand-in;
the bot downloads it over real HTTP from the stand-in's CDN route.
"""

from __future__ import annotations

import io
import pickle
import random
import re
import struct
import zlib
from dataclasses import asdict
from pathlib import Path

import torch
from PIL import Image, ImageFile
from safetensors.torch import save as save_safetensors

from tests.bot.conftest import create_persona, png_bytes

APPEARANCE = "young woman, wavy auburn hair, green eyes, freckles"


# -- files --------------------------------------------------------------------------------------------------------


def noise_png(size: int) -> bytes:
    """A PNG that does not compress (random pixels): its size in bytes is about 3 * size * size."""
    rng = random.Random(size)
    image = Image.frombytes("RGB", (size, size), bytes(rng.getrandbits(8) for _ in range(size * size * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (96, 96), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose IHDR claims `width` x `height` pixels (CRC fixed): a decompression bomb's header."""
    data = bytearray(png_bytes(8))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((128, 128), 64).convert("RGB").save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()[: buffer.tell() // 2]


def pickle_bytes() -> bytes:
    # What a .ckpt/.bin/.pt is inside: a pickle. Never unpickled by the bot; harmless here anyway.
    return pickle.dumps({"state_dict": {"w": [0.0] * 16}}, protocol=4)


def safetensors_bytes(**tensors: torch.Tensor) -> bytes:
    return save_safetensors(tensors)


# -- assertions ---------------------------------------------------------------------------------------------------


def assert_one_sentence(text: str, *hints: str, case: str = "") -> None:
    """One line, one sentence, and it tells the user what to do (one of `hints` appears in it)."""
    assert "\n" not in text, f"{case}: {text}"
    assert len(re.findall(r"[.!?](?=\s|$)", text)) == 1 and text.endswith((".", "!")), f"{case}: {text}"
    assert any(h.lower() in text.lower() for h in hints), f"{case}: {text!r} lacks any of {hints}"


def stored_files(data_dir: Path) -> list[Path]:
    return [p for sub in ("references", "loras") for p in (data_dir / sub).glob("*") if p.is_file()]


async def run_create(standin, attachments=None, **options) -> str:
    w = standin.default
    values = {"name": "Mira", "appearance": APPEARANCE} | options
    handle = await standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="create", options=values, attachments=attachments
    )
    reply = await handle.wait_for_followup(timeout=20)
    assert reply.payload.get("flags", 0) & 64, "the refusal must be ephemeral"
    return reply.content


async def run_edit(standin, attachments=None, **options) -> str:
    w = standin.default
    handle = await standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="edit", options={"name": "Mira"} | options,
        attachments=attachments,
    )  # fmt: skip
    reply = await handle.wait_for_followup(timeout=20)
    assert reply.payload.get("flags", 0) & 64, "the refusal must be ephemeral"
    return reply.content


REFERENCE_CASES = {
    "text named .png": (("face.png", b"just some text, not a picture\n", "image/png"), ("PNG", "upload")),
    "truncated jpeg": (("face.jpg", truncated_jpeg(), "image/jpeg"), ("PNG, JPEG", "upload")),
    "animated gif": (("face.gif", animated_gif(), "image/gif"), ("still picture", "upload")),
    "pixel bomb 30000x30000": (("bomb.png", png_claiming(30000, 30000), "image/png"), ("megapixels", "use one")),
    "over the pixel cap": (("big.png", png_claiming(5000, 5000), "image/png"), ("megapixels", "use one")),
    "over the byte cap": (("noise.png", noise_png(200), "image/png"), ("smaller file",)),
    "too small": (("tiny.png", png_bytes(16), "image/png"), ("at least 64",)),
}
LORA_CASES = {
    "pickle renamed .safetensors": (("mira.safetensors", pickle_bytes()), (".safetensors",)),
    ".ckpt": (("mira.ckpt", pickle_bytes()), (".safetensors",)),
    ".bin": (("adapter_model.bin", pickle_bytes()), (".safetensors",)),
    ".pt": (("mira.pt", pickle_bytes()), (".safetensors",)),
    "keys that fit no layer": (
        ("mira.safetensors", safetensors_bytes(**{"text_model.unrelated.weight": torch.zeros(4, 4)})),
        ("trained for the same base model",),
    ),
    "over the byte cap": (
        ("huge.safetensors", safetensors_bytes(**{"unet.big.lora_A.weight": torch.zeros(64, 64)})),
        ("smaller file",),
    ),
}
SMALL_CAPS = {"max_reference_bytes": 64 * 1024, "max_lora_bytes": 8 * 1024}


async def test_bad_references_are_refused_with_one_sentence_and_leave_nothing(discord_standin, bots, monkeypatch):
    running = await bots(**SMALL_CAPS)
    decoded: list[str] = []
    original_load = ImageFile.ImageFile.load

    def spy_load(image):
        decoded.append(image.format or "?")
        return original_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy_load)
    for case, ((filename, data, ctype), hints) in REFERENCE_CASES.items():
        decoded.clear()
        text = await run_create(discord_standin, attachments={"reference": (filename, data, ctype)})
        assert_one_sentence(text, *hints, case=case)
        if "pixel" in case:
            assert decoded == [], f"{case}: pixels were decoded before the size check"
    assert await running.bot.services.store.list_personas(discord_standin.default.guild.id) == []
    assert stored_files(running.bot.services.settings.data_dir) == []


async def test_bad_loras_are_refused_with_one_sentence_and_leave_nothing(discord_standin, bots):
    running = await bots(**SMALL_CAPS)
    for case, ((filename, data), hints) in LORA_CASES.items():
        if case == "over the byte cap":
            assert len(data) > SMALL_CAPS["max_lora_bytes"]
        text = await run_create(discord_standin, attachments={"lora": (filename, data, "application/octet-stream")})
        assert_one_sentence(text, *hints, case=case)
    assert await running.bot.services.store.list_personas(discord_standin.default.guild.id) == []
    assert stored_files(running.bot.services.settings.data_dir) == []


async def test_bad_names_and_texts_are_refused(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    await create_persona(discord_standin)  # "Mira" exists
    cases = {
        "too long": ({"name": "A" * 33}, ("at most 32", "shorter")),
        "empty after cleaning": ({"name": "   "}, ("visible character",)),
        "only invisible": ({"name": "\u200b\u200d\u2060\ufeff"}, ("visible character",)),
        "bidi only": ({"name": "\u202e\u202d"}, ("visible character",)),
        "case collision": ({"name": "MIRA"}, ("different name",)),
        "zero-width collision": ({"name": "Mi\u200bra"}, ("different name",)),
        "cyrillic homoglyph": ({"name": "Мirа"}, ("different name",)),  # Cyrillic М and а
        "fullwidth": ({"name": "Ｍｉｒａ"}, ("different name",)),
        "appearance over cap": ({"name": "Noor", "appearance": "tall " * 100}, ("at most 400", "shorten")),
        "appearance invisible": ({"name": "Noor", "appearance": "\u200b\u200b"}, ("cannot be empty", "describe")),
    }
    for case, (options, hints) in cases.items():
        text = await run_create(
            discord_standin, attachments={"reference": ("face.png", png_bytes(), "image/png")}, **options
        )
        assert_one_sentence(text, *hints, case=case)
    assert [p.name for p in await running.bot.services.store.list_personas(w.guild.id)] == ["Mira"]
    assert stored_files(running.bot.services.settings.data_dir) == [], "a refused name must not leave its upload behind"


async def test_edit_with_bad_input_changes_nothing(discord_standin, bots, kit):
    running = await bots(**SMALL_CAPS)
    w = discord_standin.default
    await create_persona(discord_standin, attachments={"reference": ("face.png", png_bytes(), "image/png")})
    before = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    files_before = sorted(stored_files(running.bot.services.settings.data_dir))
    bad = [
        ({"reference": ("face.gif", animated_gif(), "image/gif")}, {}, ("still picture",)),
        ({"reference": ("bomb.png", png_claiming(30000, 30000), "image/png")}, {}, ("megapixels",)),
        ({"lora": ("mira.ckpt", pickle_bytes(), "application/octet-stream")}, {}, (".safetensors",)),
        ({"lora": ("mira.safetensors", pickle_bytes(), "application/octet-stream")}, {}, (".safetensors",)),
        ({"reference": ("face.png", png_bytes(120, (1, 2, 3)), "image/png")}, {"appearance": "x" * 401}, ("at most",)),
        (None, {"appearance": "\u200b"}, ("cannot be empty",)),
    ]
    for attachments, options, hints in bad:
        assert_one_sentence(await run_edit(discord_standin, attachments, **options), *hints)
    after = await running.bot.services.store.get_persona(w.guild.id, "Mira")
    assert asdict(after) == asdict(before)
    assert sorted(stored_files(running.bot.services.settings.data_dir)) == files_before


def deeply_nested_safetensors(levels: int = 50_000) -> bytes:
    """A safetensors file with one real tensor whose header metadata nests `levels` lists deep."""
    import json as _json
    import struct as _struct

    tensor = {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}
    header = _json.dumps({"unet.w.lora_A.weight": tensor})[:-1] + ', "__metadata__": {"x": '
    header += "[" * levels + "]" * levels + "}}"
    raw = header.encode()
    return _struct.pack("<Q", len(raw)) + raw + b"\0" * 4


async def test_deeply_nested_files_are_refused_with_one_sentence(discord_standin, bots):
    running = await bots()
    w = discord_standin.default
    nested_toml = 'name = "Mira"\nappearance = "a woman"\nextra = ' + "[" * 500 + "]" * 500 + "\n"
    handle = await discord_standin.invoke_slash(
        w.guild, w.general, w.admin, "persona", subcommand="import",
        attachments={"file": ("mira.toml", nested_toml.encode(), "application/toml")},
    )  # fmt: skip
    reply = (await handle.wait_for_followup(timeout=20)).content
    assert_one_sentence(reply, "nests", case="TOML 500 levels deep")
    text = await run_create(
        discord_standin, attachments={"lora": ("mira.safetensors", deeply_nested_safetensors(), "application/x")}
    )
    assert_one_sentence(text, ".safetensors", case="safetensors header 50000 levels deep")
    shallow = await run_create(
        discord_standin, attachments={"lora": ("mira.safetensors", deeply_nested_safetensors(500), "application/x")}
    )
    assert_one_sentence(shallow, ".safetensors", case="safetensors header 500 levels deep")
    assert "wrong" not in reply.lower() + text.lower() + shallow.lower()
    assert await running.bot.services.store.list_personas(w.guild.id) == []
    assert stored_files(running.bot.services.settings.data_dir) == []
