"""`{{char}}` and `{{user}}` in card text, resolved the way chat front-ends do before a model reads it.

Also the older spellings `<BOT>`, `<USER>`, `<char>`. A card read into a persona has no user yet, so `{{user}}`
becomes "you" (or a name the caller gives), with "you's" turned into "your" and a capital at a sentence start.
"""

from __future__ import annotations

import re

_MACRO = re.compile(r"\{\{\s*(char|user)\s*\}\}('s\b)?|<\s*(bot|char|user)\s*>('s\b)?", re.IGNORECASE)
_SENTENCE_ENDS = '.!?\n"“(*'  # after one of these (and spaces), "you" starts a sentence


def resolve_macros(text: str, *, char_name: str, user_name: str | None = None) -> str:
    """`text` with character and user macros replaced; other macros are left as they are."""

    def replace(match: re.Match[str]) -> str:
        who = (match.group(1) or match.group(3)).lower()
        possessive = bool(match.group(2) or match.group(4))
        if who in ("char", "bot"):
            return char_name + ("'s" if possessive else "")
        if user_name:
            return user_name + ("'s" if possessive else "")
        word = "your" if possessive else "you"
        before = match.start() - 1
        while before >= 0 and text[before] in " \t":
            before -= 1
        at_start = before < 0 or text[before] in _SENTENCE_ENDS
        return word.capitalize() if at_start else word

    return _MACRO.sub(replace, text or "")
