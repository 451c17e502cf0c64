"""`read_card`: bytes of a PNG, JSON or CHARX character card in, one checked `CharacterCard` out.

The container is told by its first bytes (never by the file name), the card version by `spec`. A card is read
whole or refused whole with a `CardError`: nothing is returned from a card that failed any check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

from personas.cards import png
from personas.cards.charx import CharxArchive, is_zip
from personas.cards.limits import DEFAULT_LIMITS, CardLimits, CardProblem, refuse
from personas.cards.safe_json import decode_base64, load_json_object


class CardVersion(StrEnum):
    V1 = "chara_card_v1"
    V2 = "chara_card_v2"
    V3 = "chara_card_v3"


class CardContainer(StrEnum):
    PNG = "png"
    JSON = "json"
    CHARX = "charx"


# Text fields the specs define; a card with one of these that is not a string is refused.
TEXT_FIELDS = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
    "nickname",
)
# Pre-V1 TavernAI/Pygmalion names for the same fields.
_LEGACY_NAMES = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "png"), (b"\xff\xd8\xff", "jpg"), (b"GIF87a", "gif"), (b"GIF89a", "gif"))
_EMBEDDED_PREFIXES = ("embeded://", "embedded://")  # the spec's spelling, and the one people type


@dataclass(frozen=True)
class CardFile:
    """An asset from the card: the picture or a LoRA. `name` is its path in the archive (or "card.png")."""

    name: str
    ext: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class CharacterCard:
    version: CardVersion
    container: CardContainer
    fields: dict[str, Any]  # the card's data: V2/V3 `data`, or the V1 object itself
    document: dict[str, Any]  # the whole JSON object as read
    picture: CardFile | None = None  # PNG cards: the image without its text chunks; CHARX: the main icon
    lora: CardFile | None = None  # CHARX: a .safetensors asset among the AI assets, unchecked

    def text(self, key: str) -> str:
        value = self.fields.get(key)
        return value if isinstance(value, str) else ""

    @property
    def extensions(self) -> dict[str, Any]:
        value = self.fields.get("extensions")
        return value if isinstance(value, dict) else {}


def image_ext(data: bytes) -> str | None:
    """The picture format from its first bytes (png, jpg, gif, webp), or None for anything else."""
    for magic, ext in _IMAGE_MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def read_card(data: bytes, *, limits: CardLimits = DEFAULT_LIMITS) -> CharacterCard:
    """The card in `data` (PNG with `ccv3`/`chara`, card JSON, or CHARX), or a `CardError`."""
    if len(data) > limits.max_file_bytes:
        raise refuse(
            CardProblem.TOO_LARGE, f"card file is {len(data)} bytes, over the {limits.max_file_bytes}-byte cap"
        )
    if png.is_png(data):
        return _read_png(data, limits)
    if is_zip(data):
        return _read_charx(data, limits)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        document = load_json_object(data, limits, what="card JSON")
        return _card_from_document(document, CardContainer.JSON)
    raise refuse(CardProblem.NOT_A_CARD, "not a character card: expected a PNG, a JSON object or a CHARX zip")


def _read_png(data: bytes, limits: CardLimits) -> CharacterCard:
    chunks = png.read_chunks(data, limits)
    texts = png.card_text_chunks(chunks)
    keyword = "ccv3" if "ccv3" in texts else "chara" if "chara" in texts else None
    if keyword is None:
        raise refuse(CardProblem.NOT_A_CARD, "PNG has no 'chara' or 'ccv3' text chunk, so it holds no card")
    decoded = decode_base64(texts[keyword], limits, what=f"PNG '{keyword}' chunk")
    document = load_json_object(decoded, limits, what=f"PNG '{keyword}' chunk JSON")
    picture = CardFile("card.png", "png", png.without_text_chunks(chunks))
    return _card_from_document(document, CardContainer.PNG, picture=picture)


def _read_charx(data: bytes, limits: CardLimits) -> CharacterCard:
    archive = CharxArchive(data, limits)
    if not archive.has("card.json"):
        raise refuse(CardProblem.NOT_A_CARD, "CHARX has no card.json at its root")
    document = load_json_object(archive.read("card.json", limits.max_json_bytes), limits, what="CHARX card.json")
    card = _card_from_document(document, CardContainer.CHARX)
    assets = _declared_assets(card.fields)
    picture = _charx_picture(archive, assets, limits)
    lora = _charx_lora(archive, assets, limits)
    return CharacterCard(card.version, card.container, card.fields, card.document, picture, lora)


def _card_from_document(
    document: dict[str, Any], container: CardContainer, *, picture: CardFile | None = None
) -> CharacterCard:
    spec = document.get("spec")
    if isinstance(spec, str) and spec.startswith("chara_card_v"):
        fields = document.get("data")
        if not isinstance(fields, dict):
            raise refuse(CardProblem.BAD_FIELD, f"card says spec {spec!r} but its 'data' is not an object")
        number = spec.removeprefix("chara_card_v")
        version = CardVersion.V2 if number == "2" else CardVersion.V3 if number.isdigit() and int(number) >= 3 else None
        if version is None:
            raise refuse(CardProblem.NOT_A_CARD, f"unknown card spec {spec!r}")
    elif spec is None and ("name" in document or "char_name" in document):
        version, fields = CardVersion.V1, _from_legacy_names(document)
    else:
        raise refuse(CardProblem.NOT_A_CARD, f"JSON is not a character card (spec {spec!r}, no 'name')")
    for key in TEXT_FIELDS:
        if fields.get(key) is not None and not isinstance(fields[key], str):
            raise refuse(CardProblem.BAD_FIELD, f"card field {key!r} must be text, not {type(fields[key]).__name__}")
    if not (fields.get("name") or "").strip():
        raise refuse(CardProblem.BAD_FIELD, "card has no name")
    if fields.get("extensions") is not None and not isinstance(fields["extensions"], dict):
        raise refuse(CardProblem.BAD_FIELD, "card field 'extensions' must be an object")
    return CharacterCard(version, container, fields, document, picture)


def _from_legacy_names(document: dict[str, Any]) -> dict[str, Any]:
    fields = dict(document)
    for old, new in _LEGACY_NAMES.items():
        if old in fields and new not in fields:
            fields[new] = fields.pop(old)
    return fields


def _declared_assets(fields: dict[str, Any]) -> list[dict[str, str]]:
    """The card's `assets` list, keeping only well-formed entries with an embedded path."""
    raw = fields.get("assets")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise refuse(CardProblem.BAD_FIELD, "card field 'assets' must be a list")
    assets = []
    for item in raw:
        if not isinstance(item, dict) or not all(isinstance(item.get(k, ""), str) for k in ("type", "uri", "name")):
            raise refuse(CardProblem.BAD_FIELD, "every card asset must be an object with text 'type', 'uri', 'name'")
        uri = item.get("uri", "")
        for prefix in _EMBEDDED_PREFIXES:
            if uri.startswith(prefix):
                assets.append({"type": item.get("type", ""), "name": item.get("name", ""), "path": uri[len(prefix) :]})
    return assets


def _charx_picture(archive: CharxArchive, assets: list[dict[str, str]], limits: CardLimits) -> CardFile | None:
    icons = [a["path"] for a in assets if a["type"] == "icon" and a["name"] == "main"]
    icons += [a["path"] for a in assets if a["type"] == "icon"]
    icons += sorted(e.path for e in archive.files() if e.path.startswith("assets/icon/"))
    for path in icons:
        if archive.has(path):
            data = archive.read(path, limits.max_image_bytes)
            ext = image_ext(data)
            if ext is not None:
                return CardFile(path, ext, data)
    return None


def _charx_lora(archive: CharxArchive, assets: list[dict[str, str]], limits: CardLimits) -> CardFile | None:
    def under_ai(path: str) -> bool:
        parts = PurePosixPath(path).parts
        return len(parts) >= 3 and parts[0] == "assets" and "ai" in parts[1:-1]

    candidates = [a["path"] for a in assets if a["path"].lower().endswith(".safetensors")]
    candidates += sorted(
        e.path for e in archive.files() if under_ai(e.path) and e.path.lower().endswith(".safetensors")
    )
    for path in candidates:
        if archive.has(path):
            return CardFile(path, "safetensors", archive.read(path, limits.max_lora_bytes))
    return None
