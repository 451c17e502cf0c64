"""One normaliser in front of every policy check, so the checks judge words and not the way they were spelled.

People who want a word past a filter write it in other letters (Cyrillic "е", fullwidth "ｔｅｅｎ", 🅽🆄🅳🅴, accents,
zero-width joins), in digits (`t33n`, `n00dz`), spread out (`n.u.d.e`, `t e e n`), glued into an identifier
(`ohwx_teen`, `TeenGirlV2`) or stretched (`nuuuude`). `text_forms` returns the few readings of a text that undo
each trick; a term counts when any reading contains it. `normalize` is the main reading, the one people see.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from personas.policy.numbers import digits_for_number_words
from personas.validation import clean_text

# Letters that look like Latin ones (or read as them) and that NFKC leaves alone. Cyrillic and Greek letters without
# a lookalike get a plain transliteration, so every form is Latin.
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґјѕһԁԛԝ",
        "a b v g d e e zh z i i k l m h o p p c t y f x c ch sh sch _ y _ e yu ya i i e g j s h d q w".split(" "),
        strict=True,
    )
)
_CYRILLIC["в"] = "b"  # "в" passes for a Latin "B"
_CYRILLIC["ъ"] = _CYRILLIC["ь"] = ""
_GREEK = dict(
    zip(
        "αβγδεζηθικλμνξοπρστυφχψωϲϳάέήίόύώϊϋ",
        "a b y d e z n th i k l m v x o p p s t u f x ps w c j a e n i o u w i u".split(" "),
        strict=True,
    )
)
_OTHER_LOOKALIKES = {
    # Latin small capitals and IPA letters
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k",
    "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w",
    "ʏ": "y", "ᴢ": "z", "ɑ": "a", "ɡ": "g", "ı": "i", "ȷ": "j", "ℓ": "l", "ɩ": "i", "ʋ": "u",
    # letters NFKD does not split into base + accent
    "ø": "o", "ł": "l", "đ": "d", "ð": "d", "ħ": "h", "ŧ": "t", "ß": "ss", "æ": "ae", "œ": "oe", "þ": "th",
    # Armenian and Cherokee letters that pass for Latin ones
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "ա": "w",
    "Ꭺ": "a", "Ᏼ": "b", "Ꮯ": "c", "Ꭼ": "e", "Ꮋ": "h", "Ꮶ": "k", "Ꮇ": "m", "Ꮲ": "p", "Ꮪ": "s", "Ꭲ": "t", "Ꮃ": "w",
}  # fmt: skip
_FOLD = str.maketrans({**_CYRILLIC, **_GREEK, **_OTHER_LOOKALIKES})
# Enclosed and squared letters (🅽, 🆄, 🄳, regional indicators 🇹) have no NFKC form; each block runs A..Z.
_LETTER_BLOCKS = (0x1F130, 0x1F150, 0x1F170, 0x1F1E6)

# Digits and symbols that stand in for letters. "1" reads as "i" or "l", so there are two leet readings.
_LEET_I = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a",
                         "$": "s", "!": "i", "|": "l", "€": "e"})  # fmt: skip
_LEET_L = str.maketrans({"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g", "@": "a",
                         "$": "s", "!": "i", "|": "l", "€": "e"})  # fmt: skip
_LEET_TOKEN = re.compile(r"[a-z0-9@$!|€]*[a-z][a-z0-9@$!|€]*")
_HAS_LEET = re.compile(r"[0-9@$!|€]")
_LEET_NEXT_TO_LETTER = re.compile(r"[a-z][0-9@$!|€]|[0-9@$!|€][a-z]")

# Where a phrase must not run on: sentence ends, commas, brackets. Everything else that is not a letter or digit
# (dots, dashes, underscores, slashes, stars, quotes) separates words inside a phrase.
_CLAUSE_END = re.compile(r"[,;!?()\[\]{}<>\n]+")
_SEPARATOR = re.compile(r"[^\w'\s;]|_")
_CAMEL = re.compile(r"(?<=[^\W\d_])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])")
_LETTER_DIGIT = re.compile(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])")
# Separators inside one word: "nu.de", "s-e-x", "n_u_d_e". Dropping them rejoins the word.
_INNER_SEPARATOR = re.compile(r"(?<=[a-z0-9@$])[.\-_*·•~+'`^/\\:](?=[a-z0-9@$])")
# Letters spelled out one at a time: "t e e n", "n.u.d.e" (after separators became single spaces).
_SPELLED = re.compile(r"(?<![a-z0-9])(?:[a-z] +){2,}[a-z](?![a-z0-9])")
_LONG_REPEAT = re.compile(r"([a-z])\1{2,}")
_ANY_REPEAT = re.compile(r"([a-z])\1+")
_SPACES = re.compile(r" {2,}")
_MASKED = re.compile(r"(?<![\w*])[a-z]+(?:\*+[a-z]+)+(?![\w*])")


@dataclass(frozen=True)
class TextForms:
    """The readings of one text that the checks search.

    native: as typed, cleaned and case-folded, in its own script (Russian, Japanese, accented words are matched here).
    latin: Latin letters only, words split at separators, camelCase and digit/letter joins, spelled-out letters
        rejoined, long letter runs shortened; digits stay digits (ages are read here).
    ages: `latin` with English number words written as digits ("fourteen" -> "14", "ninth" -> "9th").
    loose: extra readings for obfuscated words: leetspeak (both readings of "1"), separators inside a word
        dropped, doubled letters collapsed, case changes not read as word breaks ("TeEnAgEr").
    masked: words with letters masked by "*" ("n*de", "p**n"), for the word lists to fill in.
    """

    native: str
    latin: str
    ages: str
    loose: tuple[str, ...]
    masked: tuple[str, ...] = ()

    def words(self) -> tuple[str, ...]:
        """Every Latin reading (for word lists)."""
        return (self.latin, *self.loose)


def _fold_char(char: str) -> str:
    code = ord(char)
    for block in _LETTER_BLOCKS:
        if block <= code < block + 26:
            return chr(ord("a") + code - block)
    if char.isdigit() and not char.isascii():
        return str(unicodedata.digit(char, 0))
    return char


def _fold(text: str, *, split_camel: bool = True) -> str:
    """Case-folded, accents dropped, every letter mapped to the Latin letter it passes for."""
    if text.isascii():  # the common case: nothing to fold but case
        return (_CAMEL.sub(" ", text) if split_camel else text).casefold()
    text = "".join(_fold_char(ch) for ch in text)
    text = (_CAMEL.sub(" ", text) if split_camel else text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", text).translate(_FOLD)


def _split_words(text: str) -> str:
    text = _CLAUSE_END.sub(" ; ", text)
    text = text.replace("’", "'").replace("‘", "'").replace("`", "'")
    text = _SEPARATOR.sub(" ", text)
    return re.sub(r"\s", " ", text)


def _rejoin_spelled(text: str) -> str:
    """ "t e e n" -> "teen"; "a t e e n" -> "ateen teen" (a one-letter word may lead the run)."""

    def join(match: re.Match[str]) -> str:
        letters = match.group().replace(" ", "")
        if letters[0] in "ai" and len(letters) > 3:
            return f"{letters} {letters[1:]}"
        return letters

    return _SPELLED.sub(join, text)


def _tidy(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _leet(text: str, table: dict[int, str]) -> str:
    if not _LEET_NEXT_TO_LETTER.search(text):
        return text

    def swap(match: re.Match[str]) -> str:
        word = match.group()
        core = word.rstrip("!|")  # "nude!" ends a sentence, it is no "nudei"
        if not _HAS_LEET.search(core):
            return word
        core = core.translate(table)
        # "n00dz", "b00bz": a trailing z stands for the plural s
        core = core[:-1] + "s" if core.endswith("z") and len(core) > 3 else core
        return core + " " * (len(word) - len(core))

    return _LEET_TOKEN.sub(swap, text)


def text_forms(text: str) -> TextForms:
    """Every reading of `text` the policy checks (see `TextForms`)."""
    cleaned = clean_text(text or "")
    native = cleaned.casefold()
    folded = _fold(cleaned)

    latin = _split_words(folded)
    latin = _LETTER_DIGIT.sub(" ", latin)
    latin = _tidy(_rejoin_spelled(_LONG_REPEAT.sub(r"\1\1", latin)))

    ages = digits_for_number_words(latin)

    loose: list[str] = []
    squeezed = _INNER_SEPARATOR.sub("", folded)
    one_case = _fold(cleaned, split_camel=False)
    tables = (_LEET_I, _LEET_L) if _LEET_NEXT_TO_LETTER.search(folded) else (_LEET_I,)
    for table in tables:
        for source in dict.fromkeys((folded, squeezed, one_case)):
            reading = _split_words(_leet(source, table))
            reading = _tidy(_rejoin_spelled(reading))
            for variant in (_LONG_REPEAT.sub(r"\1\1", reading), _ANY_REPEAT.sub(r"\1", reading)):
                if variant != latin and variant not in loose:
                    loose.append(variant)
    masked = tuple(dict.fromkeys(_MASKED.findall(folded)))
    return TextForms(native=native, latin=latin, ages=ages, loose=tuple(loose), masked=masked)


def normalize(text: str) -> str:
    """The main Latin reading of `text`: lower case, lookalikes folded, separators and identifiers split.

    `normalize("Ｔеen_Girl n.u.d.e")` -> `"teen girl nude"`. Checks search more readings than this one
    (`text_forms`), so a term missing here may still be found.
    """
    return text_forms(text).latin
