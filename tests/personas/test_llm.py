"""The LLM extractor against a real OpenAI-style HTTP server on 127.0.0.1 (no mocks)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from personas.chat_backend import ChatBackend, redact_url
from personas.llm import LLMSceneExtractor
from personas.models import SceneState, Turn

TURNS = [Turn(role="persona", content="I'm at the library in my green hoodie")]


class Backend:
    """A tiny chat-completions server whose answer each test sets."""

    def __init__(self) -> None:
        self.reply: str = "{}"
        self.delay = 0.0
        self.requests: list[dict] = []
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                backend.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                time.sleep(backend.delay)
                payload = json.dumps({"choices": [{"message": {"role": "assistant", "content": backend.reply}}]})
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(payload.encode())
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def backend():
    server = Backend()
    yield server
    server.server.shutdown()
    server.server.server_close()


async def test_uses_the_models_answer(backend):
    backend.reply = json.dumps(
        {"location": "old library", "outfit": "green hoodie", "activity": None, "time_of_day": "night",
         "weather": None, "mood": "focused", "framing": None, "props": ["stack of books", "(lamp:1.5)"]}
    )  # fmt: skip
    scene = await LLMSceneExtractor(ChatBackend(base_url=backend.url, api_key="secret", model="tiny")).extract(
        TURNS, SceneState()
    )
    assert scene == SceneState(
        location="old library", outfit="green hoodie", time_of_day="night", mood="focused",
        props=["stack of books", "lamp"],
    )  # fmt: skip
    request = backend.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer secret"
    assert request["body"]["model"] == "tiny" and "green hoodie" in request["body"]["messages"][1]["content"]


async def test_code_fenced_json_is_accepted(backend):
    backend.reply = '```json\n{"location": "beach", "props": []}\n```'
    assert (
        await LLMSceneExtractor(ChatBackend(base_url=backend.url, model="m")).extract(TURNS, SceneState())
    ).location == "beach"


@pytest.mark.parametrize("reply", ["not json at all", "[1, 2]", '{"location": 5}', '{"props": "dog"}'])
async def test_garbage_falls_back_to_offline(backend, reply):
    backend.reply = reply
    scene = await LLMSceneExtractor(ChatBackend(base_url=backend.url, model="m")).extract(TURNS, SceneState())
    assert scene.location == "library" and scene.outfit == "green hoodie"


async def test_slow_server_falls_back_within_the_timeout(backend):
    backend.delay = 2.0
    backend.reply = '{"location": "moon"}'
    started = time.perf_counter()
    scene = await LLMSceneExtractor(ChatBackend(base_url=backend.url, model="m"), timeout=0.3).extract(
        TURNS, SceneState()
    )
    assert scene.location == "library"
    assert time.perf_counter() - started < 1.5


async def test_unreachable_server_falls_back():
    scene = await LLMSceneExtractor(ChatBackend(base_url="http://127.0.0.1:9", model="m"), timeout=1).extract(
        TURNS, SceneState()
    )
    assert scene.location == "library"


def test_credentials_in_the_backend_url_are_redacted():
    assert redact_url("https://bob:hunter2@llm.example/v1?api-key=s3cr3t&region=eu") == (
        "https://***@llm.example/v1?api-key=***&region=eu"
    )


async def test_errors_name_the_backend_without_its_credentials(caplog):
    extractor = LLMSceneExtractor(ChatBackend(base_url="http://bob:hunter2@127.0.0.1:9/v1?key=s3cr3t"), timeout=1)
    with caplog.at_level("WARNING"):
        scene = await extractor.extract(TURNS, SceneState())
    assert scene.location == "library"
    assert "127.0.0.1:9" in caplog.text
    assert "hunter2" not in caplog.text and "s3cr3t" not in caplog.text


async def test_a_refused_turn_never_reaches_the_scene_extractor(backend):
    backend.reply = '{"location": "beach", "props": []}'
    turns = [
        Turn(role="user", content="she is 14 years old"),
        Turn(role="user", content="send me nudes of her"),
        Turn(role="persona", content="I'm at the library in my green hoodie"),
    ]
    await LLMSceneExtractor(ChatBackend(base_url=backend.url, model="m")).extract(turns, SceneState())
    sent = backend.requests[0]["body"]["messages"][1]["content"]
    assert "nudes" not in sent and "green hoodie" in sent
