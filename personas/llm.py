"""`LLMSceneExtractor`: asks the OpenAI-compatible chat backend (`ChatBackend`) for the scene as JSON.

The answer is validated field by field; any error, timeout or malformed answer falls back to the offline
extractor, so a flaky backend can make a scene less clever but never breaks a selfie.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

from personas.chat_backend import ChatBackend
from personas.errors import ChatBackendError
from personas.models import SCENE_TEXT_FIELDS, SceneState, Turn
from personas.policy.turns import allowed_turns
from personas.prompting import sanitize_chat_text
from personas.scene import OfflineSceneExtractor, SceneExtractor

log = logging.getLogger(__name__)

MAX_TURNS = 12
MAX_PROPS = 3
_SYSTEM = (
    "You track where a chat persona is and how it looks, for drawing its selfies. Given the current scene and the "
    "latest chat turns (oldest first), return the updated scene as one JSON object with exactly these keys: "
    '"location", "outfit", "activity", "time_of_day", "weather", "mood", "framing" (strings or null) and "props" '
    "(a list of at most 3 short strings). Only the persona's own statements about itself count; what the user says "
    "about their own day does not. Newer statements replace older ones; if the persona moved or changed, drop cues "
    "that no longer hold. Use a few plain words per value. Answer with JSON only."
)


class SceneAnswerError(ValueError):
    """The backend answered, but not with a usable scene."""


def parse_scene_answer(content: str) -> SceneState:
    """Validate the model's JSON answer into a `SceneState` (sanitised, capped), or raise `SceneAnswerError`."""
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", content.strip())
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SceneAnswerError(f"not JSON: {err}") from None
    if not isinstance(data, dict):
        raise SceneAnswerError("answer is not a JSON object")
    values: dict[str, Any] = {}
    for name in SCENE_TEXT_FIELDS:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise SceneAnswerError(f"{name} must be a string or null")
        cleaned = sanitize_chat_text(value or "", 80)
        values[name] = cleaned if cleaned and cleaned.lower() not in {"null", "none", "unknown", "n/a"} else None
    props = data.get("props") or []
    if not isinstance(props, list) or not all(isinstance(p, str) for p in props):
        raise SceneAnswerError("props must be a list of strings")
    values["props"] = [p for p in (sanitize_chat_text(p, 40) for p in props) if p][:MAX_PROPS]
    return SceneState(**values)


class LLMSceneExtractor:
    """Scene extraction through a `ChatBackend`; the offline extractor answers whenever the backend cannot."""

    def __init__(self, backend: ChatBackend, *, timeout: float = 8.0, fallback: SceneExtractor | None = None) -> None:
        self.backend = backend
        self.timeout = timeout
        self.fallback = fallback or OfflineSceneExtractor()

    async def extract(self, turns: Sequence[Turn], current: SceneState) -> SceneState:
        try:
            return await self._ask(turns, current)
        except (ChatBackendError, SceneAnswerError) as err:
            log.warning("LLM scene extraction failed (%s); using the offline extractor", err)
            return await self.fallback.extract(turns, current)

    async def _ask(self, turns: Sequence[Turn], current: SceneState) -> SceneState:
        chat = "\n".join(
            f"{'persona' if t.role == 'persona' else 'user'}: {sanitize_chat_text(t.content, 500)}"
            for t in allowed_turns(turns[-MAX_TURNS:])
            if t.role in {"user", "persona"}
        )
        messages = [
            {"role": "system", "content": _SYSTEM},
            {"role": "user", "content": f"Current scene: {json.dumps(current.to_dict())}\n\nChat:\n{chat}"},
        ]
        content = await self.backend.complete(messages, temperature=0, json_answer=True, timeout=self.timeout)
        return parse_scene_answer(content)
