"""`selfiebot prompt --persona FILE [--batch]`: conversation JSON on stdin, one JSON line per conversation out.

Imports only the torch-free parts of the package so it runs anywhere in well under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from personas.errors import PersonaError
from personas.files import load_persona_file
from personas.models import Persona, SceneState, Turn
from personas.planner import plan_selfie
from personas.prompting import PromptStyle
from personas.scene import OfflineSceneExtractor


class ConversationError(ValueError):
    pass


def parse_conversation(raw: Any) -> list[Turn]:
    if not isinstance(raw, dict) or not isinstance(raw.get("messages"), list) or not raw["messages"]:
        raise ConversationError('expected {"messages": [{"author": "user"|"persona", "content": "..."}, ...]}')
    turns = []
    for index, message in enumerate(raw["messages"]):
        if not isinstance(message, dict) or message.get("author") not in {"user", "persona"}:
            raise ConversationError(f'message {index}: "author" must be "user" or "persona"')
        if not isinstance(message.get("content"), str):
            raise ConversationError(f'message {index}: "content" must be a string')
        turns.append(Turn(role=message["author"], content=message["content"]))
    return turns


async def _plan_line(
    persona: Persona, turns: list[Turn], extractor: OfflineSceneExtractor, *, style: PromptStyle
) -> dict[str, Any]:
    # A persona's scenario (a character card's) sets the scene the conversation starts in, as in the bot.
    start = extractor.extract_sync([Turn(role="persona", content=persona.scenario)], SceneState())
    plan = await plan_selfie(persona, turns, start, extractor=extractor, prompt_style=style)
    return {
        "selfie_request": plan.selfie_request,
        "request_kind": plan.request_kind,
        "scene": plan.scene.to_dict(),
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "seed": plan.seed,
    }


async def _run(persona: Persona, documents: list[str], style: PromptStyle) -> int:
    extractor = OfflineSceneExtractor()
    status = 0
    for document in documents:
        try:
            turns = parse_conversation(json.loads(document))
            line = await _plan_line(persona, turns, extractor, style=style)
        except (json.JSONDecodeError, ConversationError) as err:
            line, status = {"error": f"bad conversation: {err}"}, 1
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return status


def prompt_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="selfiebot prompt",
        description="Read a conversation as JSON on stdin and print the selfie prompt for its last message.",
    )
    parser.add_argument("--persona", required=True, help="persona TOML file or character card (PNG, JSON, CHARX)")
    parser.add_argument("--batch", action="store_true", help="read one JSON conversation per line")
    parser.add_argument(
        "--prompt-style",
        choices=[style.value for style in PromptStyle],
        default=None,
        help="natural phrases or booru-style tags for personas without their own (default: $PROMPT_STYLE or natural)",
    )
    args = parser.parse_args(argv)
    try:
        persona = load_persona_file(args.persona).to_persona()
    except PersonaError as err:
        print(f"selfiebot prompt: {err}", file=sys.stderr)
        return 2
    fallback = args.prompt_style or os.environ.get("PROMPT_STYLE", "").strip().lower() or PromptStyle.NATURAL
    try:
        style = PromptStyle(persona.prompt_style or fallback)  # the persona's own style wins, as in the bot
    except ValueError:
        print(f"selfiebot prompt: PROMPT_STYLE must be natural or tags, not {fallback!r}", file=sys.stderr)
        return 2
    text = sys.stdin.read()
    documents = [line for line in text.splitlines() if line.strip()] if args.batch else [text]
    return asyncio.run(_run(persona, documents, style))
