"""`ChatBackend`: the one OpenAI-compatible chat-completions client, shared by in-character replies and scene extraction.

It builds the URL and headers once, posts, parses `choices[0].message.content`, and turns every way a call can go
wrong (HTTP errors, timeouts, malformed answers) into one `ChatBackendError` whose message names the backend by a
redacted URL: credentials in `LLM_BASE_URL` (`user:password@`, `?api-key=...`) never reach a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from personas.errors import ChatBackendError

# Query keys whose values are credentials ("api-key", "key", "token", "access_token", "sig", ...).
_SECRET_QUERY_WORDS = ("key", "token", "secret", "password", "sig", "auth")


def redact_url(url: str) -> str:
    """The URL with userinfo and credential-like query values replaced by `***`, for logs and error messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if any(w in k.lower() for w in _SECRET_QUERY_WORDS) else v) for k, v in pairs], safe="*"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class ChatBackend:
    """Posts chat messages to `{base_url}/chat/completions` and returns the answer's text."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        model: str = "default",
        timeout: float = 20.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        parts = urlsplit(base_url.strip())
        # The path gets /chat/completions appended; a query (some proxies take the key there) stays at the end.
        self._url = urlunsplit(
            (parts.scheme, parts.netloc, parts.path.rstrip("/") + "/chat/completions", parts.query, "")
        )
        self.label = redact_url(self._url)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.model = model or "default"
        self.timeout = timeout
        self._client = client  # shared with the caller (connection pooling); None: one client per call

    def __repr__(self) -> str:
        return f"ChatBackend({self.label!r}, model={self.model!r})"

    async def complete(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        temperature: float = 0.8,
        max_tokens: int | None = None,
        json_answer: bool = False,
        timeout: float | None = None,
    ) -> str:
        """The assistant's answer to `messages`; raises `ChatBackendError` (with the cause chained) on any failure."""
        body: dict[str, Any] = {"model": self.model, "messages": list(messages), "temperature": temperature}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if json_answer:
            body["response_format"] = {"type": "json_object"}
        limit = self.timeout if timeout is None else timeout
        try:
            payload = await asyncio.wait_for(self._post(body, limit), limit)
        except TimeoutError:
            raise ChatBackendError(f"{self.label} did not answer within {limit:g} s", backend=self.label) from None
        except httpx.HTTPStatusError as error:
            raise ChatBackendError(
                f"{self.label} answered HTTP {error.response.status_code}", backend=self.label
            ) from None
        except (httpx.HTTPError, ValueError) as error:
            # httpx messages can quote the URL (with its credentials): keep only the error's kind.
            raise ChatBackendError(
                f"{self.label} could not be reached ({type(error).__name__})", backend=self.label
            ) from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise ChatBackendError(f"{self.label} answered without choices[0].message", backend=self.label) from None
        if not isinstance(content, str):
            raise ChatBackendError(f"{self.label} answered with non-text content", backend=self.label)
        return content

    async def _post(self, body: dict[str, Any], timeout: float) -> Any:
        if self._client is not None:
            response = await self._client.post(self._url, json=body, headers=self._headers, timeout=timeout)
        else:
            async with httpx.AsyncClient(timeout=timeout) as client:
                response = await client.post(self._url, json=body, headers=self._headers)
        response.raise_for_status()
        return response.json()
