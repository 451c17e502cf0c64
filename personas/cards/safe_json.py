"""JSON and base64 decoding for untrusted cards: sizes and nesting checked before the standard decoder runs.

`json.loads` recurses once per nesting level, so a card of ten thousand "[" would raise `RecursionError` deep in
the decoder. The depth is measured first with a flat scan (strings skipped), which never recurses.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from personas.cards.limits import CardLimits, CardProblem, refuse

# A JSON string (escapes included) or one bracket; strings are matched whole so brackets inside them don't count.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_BASE64_SPACE = re.compile(rb"\s+")


def json_depth_within(text: str, max_depth: int) -> bool:
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                return False
        elif token in "]}":
            depth -= 1
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_json_object(raw: bytes | str, limits: CardLimits, *, what: str) -> dict[str, Any]:
    """A JSON object from `raw` (UTF-8 bytes or text), or a `CardError`: too large, too deep, not UTF-8, not JSON,
    not an object."""
    if len(raw) > limits.max_json_bytes:
        raise refuse(CardProblem.TOO_LARGE, f"{what} is {len(raw)} bytes, over the {limits.max_json_bytes}-byte cap")
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise refuse(CardProblem.BAD_JSON, f"{what} is not UTF-8 text ({err.reason} at byte {err.start})") from None
    else:
        text = raw
    if not json_depth_within(text, limits.max_json_depth):
        raise refuse(CardProblem.TOO_DEEP, f"{what} nests deeper than {limits.max_json_depth} levels")
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:  # belt and braces: the scan above should make this unreachable
        raise refuse(CardProblem.TOO_DEEP, f"{what} nests too deeply to decode") from None
    except ValueError as err:  # JSONDecodeError, NaN/Infinity, integers over Python's digit limit
        raise refuse(CardProblem.BAD_JSON, f"{what} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise refuse(CardProblem.NOT_A_CARD, f"{what} is JSON but not an object (got {type(value).__name__})")
    return value


def decode_base64(raw: bytes, limits: CardLimits, *, what: str) -> bytes:
    """Strict base64 (whitespace and missing padding tolerated, nothing else), size checked before decoding."""
    if len(raw) > limits.max_text_chunk_bytes:
        raise refuse(
            CardProblem.TOO_LARGE, f"{what} is {len(raw)} bytes, over the {limits.max_text_chunk_bytes}-byte cap"
        )
    compact = _BASE64_SPACE.sub(b"", raw)
    if len(compact) % 4 == 1:
        raise refuse(CardProblem.BAD_BASE64, f"{what} is not base64 (length {len(compact)} cannot be padded)")
    compact += b"=" * (-len(compact) % 4)
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as err:
        raise refuse(CardProblem.BAD_BASE64, f"{what} is not base64 ({err})") from None
