"""`selfiebot prompt --persona FILE [--batch]`: conversation JSON on stdin, one JSON line per conversation out.

Imports only the torch-free parts of the package so it runs anywhere in well under a second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from personas.errors import PersonaError
from personas.files import load_persona_file
from personas.models import Persona, Turn
from personas.planner import plan_selfie
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


async def _plan_line(persona: Persona, turns: list[Turn], extractor: OfflineSceneExtractor) -> dict[str, Any]:
    from personas.models import SceneState

    plan = await plan_selfie(persona, turns, SceneState(), extractor=extractor)
    return {
        "selfie_request": plan.selfie_request,
        "request_kind": plan.request_kind,
        "scene": plan.scene.to_dict(),
        "prompt": plan.prompt,
        "negative_prompt": plan.negative_prompt,
        "seed": plan.seed,
    }


async def _run(persona: Persona, documents: list[str]) -> int:
    extractor = OfflineSceneExtractor()
    status = 0
    for document in documents:
        try:
            turns = parse_conversation(json.loads(document))
            line = await _plan_line(persona, turns, extractor)
        except (json.JSONDecodeError, ConversationError) as err:
            line, status = {"error": f"bad conversation: {err}"}, 1
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return status


def prompt_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="selfiebot prompt",
        description="Read a conversation as JSON on stdin and print the selfie prompt for its last message.",
    )
    parser.add_argument("--persona", required=True, help="persona TOML file")
    parser.add_argument("--batch", action="store_true", help="read one JSON conversation per line")
    args = parser.parse_args(argv)
    try:
        persona = load_persona_file(args.persona).to_persona()
    except PersonaError as err:
        print(f"selfiebot prompt: {err}", file=sys.stderr)
        return 2
    text = sys.stdin.read()
    documents = [line for line in text.splitlines() if line.strip()] if args.batch else [text]
    return asyncio.run(_run(persona, documents))
