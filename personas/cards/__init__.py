"""Character cards (TavernAI / SillyTavern V1, V2, V3, card JSON and CHARX) in and out.

Reading (`read_card`) checks every size before decoding and refuses a hostile card whole with a `CardError`;
`import_card` maps a card to a `PersonaSpec` plus what the bot stores beside it (greeting, scenario, picture,
LoRA, `card_extras`); `export_card_png` writes a V3 card that imports back to the same persona. No Discord, no
torch: the bot words the errors and stores the results.
"""

from __future__ import annotations

from personas.cards.limits import DEFAULT_LIMITS, CardLimits, CardProblem
from personas.cards.loading import load_card_spec, looks_like_card
from personas.cards.macros import resolve_macros
from personas.cards.mapping import AppearanceSource, ImportedCard, SelfiebotSettings, card_to_persona, import_card
from personas.cards.reader import CardContainer, CardFile, CardVersion, CharacterCard, read_card
from personas.cards.traits import AppearanceTraits, extract_appearance
from personas.cards.writer import build_card_v3, export_card_json, export_card_png, selfiebot_extension
from personas.errors import CardError

__all__ = [
    "DEFAULT_LIMITS",
    "AppearanceSource",
    "AppearanceTraits",
    "CardContainer",
    "CardError",
    "CardFile",
    "CardLimits",
    "CardProblem",
    "CardVersion",
    "CharacterCard",
    "ImportedCard",
    "SelfiebotSettings",
    "build_card_v3",
    "card_to_persona",
    "export_card_json",
    "export_card_png",
    "extract_appearance",
    "import_card",
    "load_card_spec",
    "looks_like_card",
    "read_card",
    "resolve_macros",
    "selfiebot_extension",
]
