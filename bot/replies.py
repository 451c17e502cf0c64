"""In-character answers: an OpenAI-compatible chat backend when `LLM_BASE_URL` is set, short templates otherwise.

The backend gets the persona's personality as the system prompt and the conversation memory as context. Any
error, timeout or empty answer falls back to a template, so a flaky backend never silences a persona.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence

from bot import safety
from personas.chat_backend import ChatBackend
from personas.errors import ChatBackendError
from personas.models import Persona, Turn
from personas.policy.turns import allowed_turns
from personas.prompting import sanitize_chat_text

log = logging.getLogger(__name__)

MAX_CONTEXT_TURNS = 16
MAX_REPLY_CHARS = 1500

_CHAT_TEMPLATES = (
    "hey! I'm here 😊",
    "haha, tell me more!",
    "mm, I was just thinking about that.",
    "you always know what to say 😄",
)
_SELFIE_TEMPLATES = (
    "here you go 📸",
    "ok ok, here's one just for you 📸",
    "caught me at a good moment, here's a pic 📸",
)


def _pick(options: Sequence[str], key: str) -> str:
    index = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:2], "big") % len(options)
    return options[index]


def template_reply(persona: Persona, text: str, *, selfie: bool) -> str:
    return _pick(_SELFIE_TEMPLATES if selfie else _CHAT_TEMPLATES, f"{persona.name}:{text}")


def system_prompt(persona: Persona, *, selfie: bool) -> str:
    lines = [f"You are {persona.name}, chatting on a Discord server."]
    # Persona fields are checked before they reach a model: text that breaks the policy is left out, not sent.
    if safety.check_persona_settings(
        safety.persona_fields(persona), nsfw=persona.nsfw, has_reference=bool(persona.reference_path)
    ):
        lines.append("Keep every message friendly and safe for work.")
    else:
        if persona.personality:
            lines.append(persona.personality)
        lines.append(f"How you look: {persona.appearance}.")
    lines.append("Stay in character. Answer in one to three short sentences. Never say you are an AI.")
    if selfie:
        lines.append("The user asked for a selfie and you are sending one with this message: say so briefly.")
    return "\n".join(lines)


def chat_messages(persona: Persona, turns: Sequence[Turn], *, selfie: bool) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system_prompt(persona, selfie=selfie)}]
    for turn in allowed_turns(turns[-MAX_CONTEXT_TURNS:]):
        content = sanitize_chat_text(turn.content, 1000)
        if not content:
            continue
        if turn.role == "user":
            messages.append({"role": "user", "content": content})
        elif turn.role == "persona":
            messages.append({"role": "assistant", "content": content})
        else:
            messages.append({"role": "assistant", "content": f"(I {content})"})
    return messages


class ReplyWriter:
    """The persona's words: the chat backend when there is one, a template otherwise or when it fails."""

    def __init__(self, backend: ChatBackend | None = None) -> None:
        self._backend = backend

    @property
    def uses_llm(self) -> bool:
        return self._backend is not None

    async def reply(self, persona: Persona, turns: Sequence[Turn], *, selfie: bool, channel: object = None) -> str:
        """The persona's answer to the last turn of `turns`, checked before anyone sees it."""
        last = next((t.content for t in reversed(turns) if t.role == "user"), "")
        recent = [t.content for t in turns[-4:-1]]
        if safety.chat_turn_refused(last, context=recent):
            return safety.MINOR_REFUSAL  # refused in words too, and the LLM never sees it
        if self._backend is None:
            return template_reply(persona, last, selfie=selfie)
        try:
            answer = await self._backend.complete(
                chat_messages(persona, turns, selfie=selfie), temperature=0.8, max_tokens=300
            )
        except ChatBackendError as err:
            log.warning("LLM reply failed (%s); using a template", err)
            return template_reply(persona, last, selfie=selfie)
        answer = answer.strip()[:MAX_REPLY_CHARS]
        if not answer:
            return template_reply(persona, last, selfie=selfie)
        if not safety.reply_allowed(answer, persona, channel, context=[last]):
            return safety.NEUTRAL_REPLY  # a refused reply becomes a neutral in-character line
        return answer
