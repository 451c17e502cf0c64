"""An OpenAI-compatible chat-completions server for tests (``POST /v1/chat/completions``, ``GET /v1/models``).

Replies come from ``reply`` (sync or async callable taking the request body); every request body is recorded.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

Reply = Callable[[dict[str, Any]], "str | Awaitable[str]"]


def default_reply(body: dict[str, Any]) -> str:
    """Answer "in character": take the persona name from the system prompt ("You are NAME ...")."""
    system = next((m.get("content") or "" for m in body.get("messages", []) if m.get("role") == "system"), "")
    match = re.search(r"\byou are ([A-Z][\w'-]*)", system, re.IGNORECASE)
    name = match.group(1) if match else "your companion"
    last_user = next(
        (m.get("content") or "" for m in reversed(body.get("messages", [])) if m.get("role") == "user"), ""
    )
    if isinstance(last_user, list):  # content parts
        last_user = " ".join(p.get("text", "") for p in last_user if isinstance(p, dict))
    return f"*{name} smiles* You said: {str(last_user)[:200]}"


class LLMStandin:
    def __init__(self, reply: Reply = default_reply, model: str = "standin-model") -> None:
        self.reply = reply
        self.model = model
        self.delay = 0.0  # seconds to sleep before answering (simulate a slow backend)
        self.requests: list[dict[str, Any]] = []  # JSON bodies, in order
        self.headers: list[dict[str, str]] = []
        self._failures: list[tuple[int, str]] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """What ``LLM_BASE_URL`` should be (OpenAI clients append ``/chat/completions``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_with(self, status: int, count: int = 1, message: str = "stand-in failure") -> None:
        """The next ``count`` chat requests answer ``status`` with an OpenAI-style error body."""
        self._failures.extend([(status, message)] * count)

    @property
    def last_system_prompt(self) -> str:
        if not self.requests:
            return ""
        return next((m.get("content") or "" for m in self.requests[-1]["messages"] if m.get("role") == "system"), "")

    async def start(self) -> LLMStandin:
        app = web.Application()
        for prefix in ("/v1", ""):
            app.router.add_post(prefix + "/chat/completions", self._chat)
            app.router.add_get(prefix + "/models", self._models)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LLMStandin:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "standin"}]}
        )

    async def _chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._failures:
            status, message = self._failures.pop(0)
            return web.json_response(
                {"error": {"message": message, "type": "server_error", "code": status}}, status=status
            )
        content = self.reply(body)
        if inspect.isawaitable(content):
            content = await content
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion_tokens = len(str(content).split())
        if body.get("stream"):
            return await self._stream(request, str(content))
        return web.json_response(
            {
                "id": f"chatcmpl-{len(self.requests)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    async def _stream(self, request: web.Request, content: str) -> web.StreamResponse:
        # Minimal SSE support in case a client asks for stream=true: one delta chunk, then [DONE].
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        chunk = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion.chunk",
            "model": self.model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        }
        await response.write(f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n".encode())
        await response.write_eof()
        return response


@asynccontextmanager
async def running_llm_standin(reply: Reply = default_reply) -> AsyncIterator[LLMStandin]:
    async with LLMStandin(reply) as llm:
        yield llm
