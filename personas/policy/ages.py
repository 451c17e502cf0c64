"""Ages under 18 and school grades, in digits or words, in the formats people write them.

"aged 14", "14 y.o.", "14yo", "14-year-old", "age: 14", "she's fourteen", "girl of 14", "16F", "under 18",
"8th grade", "grade 9", "year 10 student", "14 años", "14 ans", "14-jähriges", "14 anni", "14 лет", "14歳".
An age of 18 or more is never a cue ("24 y.o.", "she is 18", "18+"). Numbers alone are not ages ("fifteen people",
"for 14 years", "room 14"): a number counts only in a form that states an age.
"""

from __future__ import annotations

import re
from datetime import date

from personas.policy.normalize import TextForms

ADULT_AGE = 18
_N = r"(\d{1,3})"
_B = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"
# After a number, words that make it a measure, a time or an amount, not an age.
_NOT_AN_AGE = (
    r"(?! ?(?:%|percent|cm|mm|km|kg|kgs|kilos?|lb|lbs|pounds?|inch|inches|ft|feet|foot|m|meters?|metres?|miles?|"
    r"minutes?|mins?|hours?|hrs?|h|seconds?|secs?|days?|weeks?|months?|dollars?|euros?|bucks|times|points?|"
    r"pm|am|o'clock|k|th|st|nd|rd|x|people|of|out|more|less|or more|bucks|followers|likes|degrees?)(?![a-z0-9]))"
    r"(?! ?(?:years?|yrs?)(?![a-z0-9])(?! ?(?:old|of age|young|;|$)))"  # "is 15 years." states an age, "15 years into" does not
)
_PERSON = (
    r"she|he|they|who|sister|brother|daughter|son|girl|boy|kid|child|cousin|niece|nephew|friend|girlfriend|"
    r"boyfriend|gf|bf|student|character|persona|char|user"  # "{{char}} is 15" in character cards
)
_ENGLISH_AGE = [
    _B + _N + r" ?(?:yo|y o|yrs? old|years? old|yr old|years? of age|yrs? of age|years? young|year old)" + _E,
    _B
    + r"(?:age|aged|ages|age of|at age|at the age of)(?: is| was| =| of)?"
    + r" "
    + _N
    + _E
    + r"(?! ?(?:%|percent|rating))",
    _B + r"(?:i'm|im|i am|you're|youre|you are|i was|turned|turning|turns|just turned|be|being|"
    r"(?:" + _PERSON + r")(?: ;)?(?:'s| is| was| turned| turns| just turned))"
    r" (?:only |just |barely |about |around |like |almost |nearly |now |already )?" + _N + _E + _NOT_AN_AGE,
    # "looks 14", "could pass for 13": two digits only ("looking 4 a date", "looks like 2 cents")
    _B + r"(?:looks?|looking|appears?(?: to be)?|seems?(?: to be)?|(?:could )?pass(?:es)? (?:as|for))"
    r" (?:about |around |like |maybe |barely |only |just )?(\d{2})" + _E + _NOT_AN_AGE,
    # "Mia, 16" / "Mia (16)": a name or a word for a person, then a bare number, opening a text or a clause
    r"(?:^|; )[a-z]+(?: [a-z]+)? ; (\d{1,2})(?= ;|$)",
    _B + r"(?:girl|boy|child|kid|daughter|son|teen|lass|lad|student|woman|man|female|male|lady|maiden|youth|"
    r"person|persona) (?:of|aged|age) " + _N + _E,
    _B + r"(\d{2}) ?f" + _E,  # "16F", "(15 f)": the forum way to state age and sex
    r"(?:^|; )(\d{2}) ?m(?: ;|$)",  # "(16m)": only in brackets, "16 m" is a length
    _B + r"sweet " + _N + _E,
]
# "under 18", "not yet eighteen": the upper bound of an age; counts when the bound is 18 or lower.
_UNDER = (
    _B + r"(?:under|below|younger than|not yet|almost|nearly|barely|just under|under the age of|below the age of|"
    r"not even|only just) " + _N + _E + _NOT_AN_AGE
)
_GRADES = [
    (_B + r"(\d{1,2}) ?(?:st|nd|rd|th)? ?grade(?:r|rs|s)?" + _E, "grade"),
    (_B + r"grade " + _N + _E, "grade"),
    (_B + r"year (\d{1,2}) (?:student|students|pupil|pupils|girl|boy|kid|schoolgirl|schoolboy|class)" + _E, "year"),
    (_B + r"in year (\d{1,2})" + _E + r"(?! of)", "year"),
    (_B + r"(\d{1,2}) ?(?:st|nd|rd|th) form" + _E, "form"),
]
_MAX_GRADE = {"grade": 12, "year": 13, "form": 7}

# Other languages: a number (digits or the language's word) right before the word for years of age.
_WORDS_ES = (
    "un uno una dos tres cuatro cinco seis siete ocho nueve diez once doce trece catorce quince dieciseis diecisiete"
)
_WORDS_PT = (
    "um uma dois duas tres quatro cinco seis sete oito nove dez onze doze treze catorze quinze dezesseis dezessete"
)
_WORDS_FR = "un une deux trois quatre cinq six sept huit neuf dix onze douze treize quatorze quinze seize dix sept"
_WORDS_DE = "ein eins eine zwei drei vier funf sechs sieben acht neun zehn elf zwolf dreizehn vierzehn funfzehn sechzehn siebzehn"
_WORDS_IT = "un uno una due tre quattro cinque sei sette otto nove dieci undici dodici tredici quattordici quindici sedici diciassette"
_WORDS_RU = (
    "один одна два две три четыре пять шесть семь восемь девять десять одиннадцать двенадцать тринадцать "
    "четырнадцать пятнадцать шестнадцать семнадцать"
)
_EXTRA = {"quatorze": 14, "dezasseis": 16, "dezassete": 17, "zwoelf": 12, "fuenf": 5, "fuenfzehn": 15}


def _value_table(words: str, *, first: int = 1) -> dict[str, int]:
    """Words listed in order from `first`, with synonyms (un/uno/una) sharing their neighbour's value."""
    table: dict[str, int] = {}
    value = first
    previous = ""
    for word in words.split():
        synonym = previous in ("un", "uno", "um", "ein", "eins", "один") and word in (
            "uno",
            "una",
            "uma",
            "une",
            "eins",
            "eine",
            "одна",
        )
        synonym = synonym or (previous in ("dois", "два") and word in ("duas", "две"))
        if synonym:
            value -= 1
        table.setdefault(word, value)
        previous = word
        value += 1
    return table


_TABLES = {lang: _value_table(words) for lang, words in
           {"es": _WORDS_ES, "pt": _WORDS_PT, "fr": _WORDS_FR, "de": _WORDS_DE, "it": _WORDS_IT}.items()}  # fmt: skip
_TABLES["fr"]["dix sept"] = 17
_TABLES["pt"].update({word: value for word, value in _EXTRA.items() if word.startswith(("quat", "dez"))})
_TABLES["de"].update({word: value for word, value in _EXTRA.items() if word.startswith(("zwo", "fue"))})
_RU_TABLE = _value_table(_WORDS_RU)


def _alternatives(table: dict[str, int]) -> str:
    return "|".join(sorted(map(re.escape, table), key=len, reverse=True))


def _foreign_pattern(lang: str, unit: str, *, not_before: str, not_after: str = "") -> re.Pattern[str]:
    number = r"(\d{1,3}|" + _alternatives(_TABLES[lang]) + r")"
    # one fixed-width look-behind per word (Python's look-behinds cannot vary in width)
    before = "".join(rf"(?<!{word} )" for word in not_before.split("|"))
    after = rf"(?! (?:{not_after}){_E})" if not_after else ""
    return re.compile(_B + before + number + r" ?" + unit + _E + after)


_AGO_ES_PT = "hace|desde|en|por|durante|hay|cada|ha|faz|em"
# "hace 14 años", "il y a 14 ans", "vor 14 Jahren", "14 anni fa": years ago, not an age.
_FOREIGN = [
    # Spanish and Portuguese share "anos" once accents are folded, so they share the "ago" words too
    ("es", _foreign_pattern("es", r"anos", not_before=_AGO_ES_PT, not_after="atras|mas|despues|depois|mais")),
    ("pt", _foreign_pattern("pt", r"anos", not_before=_AGO_ES_PT, not_after="atras|mas|despues|depois|mais")),
    ("fr", _foreign_pattern("fr", r"ans", not_before="a|depuis|pendant|dans|en|pour|tous les", not_after="plus tard|apres")),
    ("de", _foreign_pattern("de", r"(?:jahre(?: alt\w*)?|jahrig\w*|jaehrig\w*|j alt)", not_before="vor|seit|fur|in|nach|alle",
                            not_after="lang|spater|her")),
    ("it", _foreign_pattern("it", r"anni", not_before="da|per|tra|fra|in|ogni", not_after="fa|dopo")),
]  # fmt: skip
_RU_AGE = re.compile(
    r"(?<!через )(?<!за )(\d{1,3}|" + _alternatives(_RU_TABLE) + r")(?: |-)?(?:лет|года|год|летн\w*|годик\w*)(?! назад)"
)
_KANJI_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_JA_AGE = re.compile(r"(\d{1,3}|[一二三四五六七八九十]{1,3}) ?(?:歳|才|さい)")


def _kanji_number(text: str) -> int:
    if text.isdigit():
        return int(text)
    tens, _, units = text.partition("十")
    if "十" not in text:
        return _KANJI_DIGITS.get(text, 0)
    return (_KANJI_DIGITS.get(tens, 1) if tens else 1) * 10 + _KANJI_DIGITS.get(units, 0)


def _number(text: str, table: dict[str, int]) -> int:
    return int(text) if text.isdigit() else table.get(text, ADULT_AGE)


def minor_age_cues(forms: TextForms) -> list[str]:
    """Labels like "age 14", "under 18", "grade 8" for each age under 18 or school grade the text states."""
    found: dict[str, None] = {}
    reading = forms.ages
    for pattern in _ENGLISH_AGES:
        for match in pattern.finditer(reading):
            if int(match.group(1)) < ADULT_AGE:
                found.setdefault(f"age {int(match.group(1))}", None)
    for match in _UNDER_RE.finditer(reading):
        if int(match.group(1)) <= ADULT_AGE:
            found.setdefault(f"under {int(match.group(1))}", None)
    for pattern, kind in _GRADE_RES:
        for match in pattern.finditer(reading):
            if 0 <= int(match.group(1)) <= _MAX_GRADE[kind]:
                found.setdefault(f"{kind} {int(match.group(1))}", None)
    for lang, pattern in _FOREIGN:
        for match in pattern.finditer(reading):
            age = _number(match.group(1), _TABLES[lang])
            if age < ADULT_AGE:
                found.setdefault(f"age {age}", None)
    this_year = date.today().year
    for match in _BORN.finditer(reading):
        if 0 <= this_year - int(match.group(1)) < ADULT_AGE:
            found.setdefault(f"born {match.group(1)}", None)
    for match in _RU_AGE.finditer(forms.native):
        age = _number(match.group(1), _RU_TABLE)
        if age < ADULT_AGE:
            found.setdefault(f"age {age}", None)
    for match in _JA_AGE.finditer(forms.native):
        age = _kanji_number(match.group(1))
        if age < ADULT_AGE:
            found.setdefault(f"age {age}", None)
    return list(found)


def stated_ages(forms: TextForms) -> list[int]:
    """Every age the text states in English, adult or not (used to avoid a second, conflicting adult age)."""
    return [int(match.group(1)) for pattern in _ENGLISH_AGES[:6] for match in pattern.finditer(forms.ages)]


_ENGLISH_AGES = [re.compile(pattern) for pattern in _ENGLISH_AGE]
_UNDER_RE = re.compile(_UNDER)
_BORN = re.compile(
    _B + r"(?:born|birth year|year of birth|dob|date of birth)(?: in| on)? (?:\d{1,2} ){0,2}((?:19|20)\d\d)" + _E
)
_GRADE_RES = [(re.compile(pattern), kind) for pattern, kind in _GRADES]
