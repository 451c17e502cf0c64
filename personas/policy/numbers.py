"""English number words as digits, so one set of age and grade rules reads "fourteen", "twenty-four" and "ninth".

Only English words are rewritten everywhere: in other languages a number word is read only right before that
language's word for years (see `ages.py`), because some of them are English words too ("once", "elf", "tre").
"""

from __future__ import annotations

import re

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen"
).split()
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
         "eighty": 80, "ninety": 90}  # fmt: skip
_ORDINALS = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
).split()

CARDINALS: dict[str, int] = {word: value for value, word in enumerate(_UNITS)} | _TENS
ORDINALS: dict[str, int] = {word: value for value, word in enumerate(_ORDINALS)}

_SUFFIX = {1: "st", 2: "nd", 3: "rd"}
_NUMBER_WORD = re.compile(
    r"(?<![a-z0-9])(?:(?P<tens>" + "|".join(_TENS) + r")(?: (?P<unit>" + "|".join(_UNITS[1:10]) + r"))?"
    r"|(?P<card>" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
    r"|(?P<ord>" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r"))(?![a-z0-9])"
)


def _ordinal(value: int) -> str:
    return f"{value}{'th' if 10 <= value % 100 <= 20 else _SUFFIX.get(value % 10, 'th')}"


def digits_for_number_words(text: str) -> str:
    """ "fourteen years old" -> "14 years old", "twenty four" -> "24", "ninth grader" -> "9th grader".

    `text` is a normalised reading (lower case, single spaces, hyphens already spaces).
    """

    def swap(match: re.Match[str]) -> str:
        if match.group("tens"):
            return str(_TENS[match.group("tens")] + CARDINALS.get(match.group("unit") or "zero", 0))
        if match.group("card"):
            return str(CARDINALS[match.group("card")])
        return _ordinal(ORDINALS[match.group("ord")])

    return _NUMBER_WORD.sub(swap, text)
