"""Secrets never reach a log: the bot token, the LLM key, and the tokens inside webhook / interaction URLs.

discord.py logs REST routes, webhook URLs and whole gateway payloads at DEBUG; an interaction payload carries its
token and a webhook creation answer carries the webhook's. Any of those in a log file lets a reader speak as the
bot. `install_redaction(settings)` rewrites every log record as it is created (a record factory, so records from
every logger and for every handler, pytest's included, are covered), message, arguments and traceback alike.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable

MASK = "[redacted]"
_MIN_SECRET = 6  # shorter "secrets" would mask ordinary words

# /webhooks/{id}/{token} and /interactions/{id}/{token}: keep the id (useful when debugging), drop the token.
_URL_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_\-.]{20,}")
# "token": "..." in JSON and 'token': '...' in a dict repr (gateway payloads, webhook objects).
_FIELD_TOKEN = re.compile(r"""(["']token["']\s*:\s*["'])[^"']+(["'])""", re.IGNORECASE)
# Authorization headers, should a request ever be logged with its headers.
_AUTH = re.compile(r"\b(Bot|Bearer)\s+[A-Za-z0-9_\-.]{12,}")
# Anything token-shaped anywhere else (aiosqlite logs SQL parameters at DEBUG, webhook tokens among them): a long
# run with upper case, lower case and digits. Hex hashes (lower case) and snowflakes (digits) stay readable.
_TOKEN_SHAPED = re.compile(
    r"(?<![A-Za-z0-9_\-])(?=[A-Za-z0-9_\-.]*[A-Z])(?=[A-Za-z0-9_\-.]*[a-z])"
    r"(?=[A-Za-z0-9_\-.]*[0-9])[A-Za-z0-9_\-.]{40,}(?![A-Za-z0-9_\-])"
)


class Redactor(logging.Filter):
    """Masks known secrets and token-shaped parts of URLs and payloads in a log record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        self._secrets.update(s for s in secrets if s and len(s) >= _MIN_SECRET)

    def redact(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        text = _URL_TOKEN.sub(rf"\g<1>{MASK}", text)
        text = _FIELD_TOKEN.sub(rf"\g<1>{MASK}\g<2>", text)
        text = _AUTH.sub(rf"\g<1> {MASK}", text)
        return _TOKEN_SHAPED.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is, still redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = self.redact(message), ()
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is formatted (and cleaned) once, here.
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_installed: Redactor | None = None
_lock = threading.Lock()


def install_redaction(settings: object) -> Redactor:
    """Redact `settings.discord_token` and `settings.llm_api_key` (and URL/payload tokens) from every log record
    created from now on. Idempotent: a second call adds that settings' secrets to the same redactor."""
    global _installed
    secrets = (getattr(settings, "discord_token", ""), getattr(settings, "llm_api_key", ""))
    with _lock:
        if _installed is None:
            redactor = Redactor()
            make_record = logging.getLogRecordFactory()

            def factory(*args, **kwargs) -> logging.LogRecord:
                record = make_record(*args, **kwargs)
                redactor.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _installed = redactor
        _installed.add(*secrets)
        return _installed
