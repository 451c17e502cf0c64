"""Turning a persona and a prompt into a `GenerationRequest`, and a finished picture into an upload that fits."""

from __future__ import annotations

import io
from pathlib import Path

from bot import safety
from bot.settings import Settings
from bot.webhooks import Speakable
from generation.engine import Engine
from generation.errors import GenerationError
from generation.request import GenerationRequest
from personas.models import Persona, SceneState
from personas.prompting import build_prompt

DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024


class PictureTooLarge(GenerationError):
    """Even the most compressed encoding is over the channel's upload limit."""


def encode_picture(image, limit: int) -> tuple[bytes, str]:
    """PNG when it fits the upload limit, else JPEG at falling quality."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    if buffer.tell() <= limit:
        return buffer.getvalue(), "selfie.png"
    rgb = image.convert("RGB")
    for quality in (92, 85, 75, 60):
        buffer = io.BytesIO()
        rgb.save(buffer, format="JPEG", quality=quality)
        if buffer.tell() <= limit:
            return buffer.getvalue(), "selfie.jpg"
    raise PictureTooLarge(f"picture of {image.size} is over the {limit}-byte upload limit even as JPEG")


def upload_limit(channel: Speakable) -> int:
    guild = getattr(channel, "guild", None)
    return int(getattr(guild, "filesize_limit", 0) or DEFAULT_UPLOAD_LIMIT)


def request_for(
    persona: Persona, *, prompt: str, negative: str, seed: int, settings: Settings, engine: Engine
) -> GenerationRequest:
    """The generation request for one picture of `persona` with the bot's selfie settings."""
    size = settings.selfie_size or engine.native_size
    reference = persona.reference_path if persona.reference_path and engine.supports_references else None
    return GenerationRequest(
        prompt=prompt,
        seed=seed,
        negative_prompt=negative,
        steps=settings.selfie_steps,
        guidance=settings.selfie_guidance,
        width=size,
        height=size,
        lora_path=Path(persona.lora_path) if persona.lora_path else None,
        lora_scale=persona.lora_scale,
        reference_path=Path(reference) if reference else None,
        ip_scale=persona.ip_scale,
        identity=f"persona:{persona.id}:v{persona.version}",
    )


class PictureRefused(Exception):
    """The picture policy refused a picture the bot wanted to draw for itself; `str()` is the persona's words."""


def scene_request(
    persona: Persona, scene: SceneState, *, purpose: str, seed: int, settings: Settings, engine: Engine
) -> GenerationRequest:
    """A picture of `persona` in `scene` that the bot draws for itself (preview, calibration, training set),
    through the same policy as every selfie and always judged as safe for work: checked, then hardened.
    Raises `PictureRefused`; the caller still runs the image check on the finished picture."""
    built = build_prompt(
        persona, scene, "selfie", count_tokens=engine.count_tokens, style=persona.prompt_style or settings.prompt_style
    )
    decision = safety.check_picture(persona, None, request=purpose, prompt=built.prompt, negative=built.negative_prompt)
    if not decision.allowed:
        raise PictureRefused(decision.decline)
    prompt, negative = decision.harden(built.prompt, built.negative_prompt)
    return request_for(persona, prompt=prompt, negative=negative, seed=seed, settings=settings, engine=engine)
