"""Export: a persona as a V3 character card, as PNG (both `chara` V2 and `ccv3` chunks) or as JSON.

Our own settings travel under `extensions.selfiebot`, so importing the export gives the same persona back; the
appearance is also written as SillyTavern's `sd_character_prompt`, so its image generation draws the same person.
`card_extras` from the import puts back every field and extension the persona does not hold; a text the admin
has not changed since the import is written exactly as the card had it (macros and all).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Mapping
from typing import Any

from personas.cards import png
from personas.cards.limits import DEFAULT_LIMITS, CardLimits, CardProblem, refuse
from personas.cards.mapping import EXTRAS_FORMAT, SD_PROMPT_KEY, SELFIEBOT_KEY, V1_FIELDS
from personas.files import PersonaSpec
from personas.models import Persona

# Fields only V3 has; the V2 copy in the `chara` chunk leaves them out.
V3_ONLY_FIELDS = (
    "assets", "nickname", "creator_notes_multilingual", "source", "group_only_greetings", "creation_date",
    "modification_date",
)  # fmt: skip
_V2_DEFAULTS: dict[str, Any] = {
    "description": "", "personality": "", "scenario": "", "first_mes": "", "mes_example": "", "creator_notes": "",
    "system_prompt": "", "post_history_instructions": "", "alternate_greetings": [], "tags": [], "creator": "",
    "character_version": "",
}  # fmt: skip


def selfiebot_extension(persona: Persona | PersonaSpec, *, prompt_style: str | None = None) -> dict[str, Any]:
    """Our settings as stored under `extensions.selfiebot` (read back by `personas.cards.mapping`)."""
    seed = persona.seed if isinstance(persona, Persona) else persona.effective_seed
    block: dict[str, Any] = {
        "format": EXTRAS_FORMAT,
        "appearance": persona.appearance,
        "personality": persona.personality,
        "seed": seed,
        "seed_mode": persona.seed_mode,
        "negative": persona.negative,
        "style": persona.style,
        "lora_scale": persona.lora_scale,
        "lora_trigger": persona.lora_trigger,
        "ip_scale": persona.ip_scale,
        "nsfw": persona.nsfw,
    }
    if isinstance(persona, Persona):
        block["look_version"] = persona.version
    if prompt_style is not None:
        block["prompt_style"] = str(prompt_style)
    return block


def build_card_v3(
    persona: Persona | PersonaSpec,
    *,
    greeting: str = "",
    scenario: str = "",
    card_extras: Mapping[str, Any] | None = None,
    prompt_style: str | None = None,
    now: int | None = None,
) -> dict[str, Any]:
    """The V3 card object for `persona`."""
    extras = dict(card_extras or {})
    original: dict[str, str] = dict(extras.get("original") or {})
    derived: dict[str, str] = dict(extras.get("derived") or {})

    def unchanged(key: str, value: str) -> bool:
        return key in derived and derived[key] == value

    data: dict[str, Any] = {**_V2_DEFAULTS, **dict(extras.get("data") or {})}
    if unchanged("name", persona.name):
        data["name"] = original.get("name") or persona.name
        if original.get("nickname"):
            data["nickname"] = original["nickname"]
    else:
        data["name"] = persona.name
    if unchanged("personality", persona.personality):
        data["description"] = original.get("description", "")
        data["personality"] = original.get("personality", "")
    else:
        data["description"], data["personality"] = persona.personality, ""
    data["first_mes"] = original.get("first_mes", "") if unchanged("greeting", greeting) else greeting
    data["scenario"] = original.get("scenario", "") if unchanged("scenario", scenario) else scenario

    extensions = dict(extras.get("extensions") or {})
    sd_prompt = extensions.get(SD_PROMPT_KEY)
    extensions[SD_PROMPT_KEY] = {
        **(sd_prompt if isinstance(sd_prompt, dict) else {}),
        "positive": persona.appearance,
        "negative": persona.negative,
    }
    extensions[SELFIEBOT_KEY] = selfiebot_extension(persona, prompt_style=prompt_style)
    data["extensions"] = extensions
    # Embedded assets stay behind in the archive they came in; the picture is this PNG itself.
    assets = [a for a in data.get("assets") or [] if isinstance(a, dict) and not _embedded(a.get("uri"))]
    if not any(a.get("type") == "icon" for a in assets):
        assets.insert(0, {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"})
    data["assets"] = assets
    data.setdefault("group_only_greetings", [])
    stamp = int(time.time()) if now is None else now
    data.setdefault("creation_date", stamp)
    data["modification_date"] = stamp
    root = {k: v for k, v in dict(extras.get("root") or {}).items() if k not in ("spec", "spec_version", "data")}
    return {**root, "spec": "chara_card_v3", "spec_version": "3.0", "data": data}


def v2_copy(card_v3: Mapping[str, Any]) -> dict[str, Any]:
    """The V2 object for the `chara` chunk: V3-only fields dropped, V1 fields mirrored at the root for old readers."""
    data = {k: v for k, v in card_v3["data"].items() if k not in V3_ONLY_FIELDS}
    root = {k: v for k, v in card_v3.items() if k not in ("spec", "spec_version", "data")}
    return {**root, **{k: data.get(k, "") for k in V1_FIELDS}, "spec": "chara_card_v2", "spec_version": "2.0",
            "data": data}  # fmt: skip


def export_card_png(
    persona: Persona | PersonaSpec,
    *,
    picture: bytes,
    greeting: str = "",
    scenario: str = "",
    card_extras: Mapping[str, Any] | None = None,
    prompt_style: str | None = None,
    now: int | None = None,
    limits: CardLimits = DEFAULT_LIMITS,
) -> bytes:
    """A PNG card: `picture` (PNG, or any format Pillow reads, converted) with `ccv3` and `chara` chunks."""
    card = build_card_v3(
        persona, greeting=greeting, scenario=scenario, card_extras=card_extras, prompt_style=prompt_style, now=now
    )
    texts = {"chara": _encode(v2_copy(card), limits), "ccv3": _encode(card, limits)}
    return png.with_card_chunks(_as_png(picture), texts, limits)


def export_card_json(
    persona: Persona | PersonaSpec,
    *,
    greeting: str = "",
    scenario: str = "",
    card_extras: Mapping[str, Any] | None = None,
    prompt_style: str | None = None,
    now: int | None = None,
) -> bytes:
    """The V3 card as UTF-8 JSON (for a card without a picture)."""
    card = build_card_v3(
        persona, greeting=greeting, scenario=scenario, card_extras=card_extras, prompt_style=prompt_style, now=now
    )
    return json.dumps(card, ensure_ascii=False, indent=2).encode("utf-8")


def _embedded(uri: object) -> bool:
    return isinstance(uri, str) and (uri.startswith("embeded://") or uri.startswith("embedded://"))


def _encode(card: Mapping[str, Any], limits: CardLimits) -> bytes:
    raw = json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(raw) > limits.max_json_bytes:
        raise refuse(CardProblem.TOO_LARGE, f"exported card JSON is {len(raw)} bytes, over {limits.max_json_bytes}")
    return base64.b64encode(raw)


def _as_png(picture: bytes) -> bytes:
    if png.is_png(picture):
        return picture
    from PIL import Image, UnidentifiedImageError  # only for pictures that are not PNG already

    try:
        with Image.open(io.BytesIO(picture)) as image:
            out = io.BytesIO()
            image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB").save(out, format="PNG")
    except (UnidentifiedImageError, OSError) as err:
        raise refuse(CardProblem.BAD_PNG, f"card picture is not an image Pillow can read ({err})") from None
    return out.getvalue()
