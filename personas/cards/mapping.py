"""A read card becomes persona settings (`import_card`), and what the persona cannot hold is kept for export.

| persona            | from the card                                                                         |
| ------------------ | ------------------------------------------------------------------------------------- |
| name               | V3 `nickname` when set, else `name` (cut to the name limit at a word)                 |
| appearance         | `extensions.selfiebot`, else `extensions.sd_character_prompt.positive`, else traits    |
|                    | extracted offline from description + personality                                      |
| negative           | `extensions.selfiebot`, else `extensions.sd_character_prompt.negative`                 |
| personality        | `personality` + `description`, macros resolved, cut at a sentence                     |
| greeting, scenario | `first_mes`, `scenario`, macros resolved; the scenario also gives a starting scene    |
| seed, scales, ...  | `extensions.selfiebot` (our own export), validated like a persona file                |
| picture, LoRA      | the PNG itself or the CHARX icon; a CHARX `.safetensors` AI asset (caller validates)  |

Everything else (other extensions, lorebook, example dialogue, tags, the original texts) goes into
`ImportedCard.card_extras`, a JSON-able dict the bot stores; `export_card_png` puts it back, so a card that went
through the bot comes out with nothing lost, and fields the admin did not change come out byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from personas import validation
from personas.cards.limits import DEFAULT_LIMITS, CardLimits, CardProblem, refuse
from personas.cards.macros import resolve_macros
from personas.cards.reader import CardFile, CardVersion, CharacterCard, read_card
from personas.cards.traits import AppearanceTraits, extract_appearance
from personas.errors import CardError, PersonaError
from personas.files import PersonaSpec
from personas.models import SceneState, Turn
from personas.scene import OfflineSceneExtractor

SELFIEBOT_KEY = "selfiebot"
SD_PROMPT_KEY = "sd_character_prompt"
EXTRAS_FORMAT = 1
GREETING_MAX = 2000  # one Discord message
SCENARIO_MAX = 2000
# Card fields the persona holds itself; every other field is kept as it came.
MAPPED_FIELDS = ("name", "nickname", "description", "personality", "scenario", "first_mes", "extensions")
FALLBACK_APPEARANCE = "person"
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")


class AppearanceSource(StrEnum):
    SELFIEBOT = "selfiebot"  # our own export
    SD_PROMPT = "sd_prompt"  # SillyTavern's per-character image prompt
    DESCRIPTION = "description"  # traits extracted offline
    NONE = "none"  # nothing found: a placeholder the admin (or an LLM) should replace


@dataclass(frozen=True)
class SelfiebotSettings:
    """Our own settings from `extensions.selfiebot`, validated."""

    appearance: str
    personality: str
    seed: int | None
    seed_mode: str
    negative: str
    style: str
    lora_scale: float
    lora_trigger: str
    ip_scale: float
    nsfw: bool
    look_version: int | None
    prompt_style: str | None


@dataclass(frozen=True)
class ImportedCard:
    spec: PersonaSpec  # greeting, scenario and card_extras ride along on it
    card: CharacterCard
    appearance_source: AppearanceSource
    traits: AppearanceTraits | None  # when the appearance came from the description
    starting_scene: SceneState
    selfiebot: SelfiebotSettings | None
    picture: CardFile | None  # avatar candidate; a reference only after the admin confirms
    lora: CardFile | None  # validate like an uploaded LoRA before storing
    notes: tuple[str, ...] = field(default=())  # technical notes for the admin (what was cut, what was guessed)

    @property
    def greeting(self) -> str:
        return self.spec.greeting

    @property
    def scenario(self) -> str:
        return self.spec.scenario

    @property
    def card_extras(self) -> dict[str, Any]:
        return self.spec.card_extras or {}

    def texts(self) -> dict[str, str]:
        """Every text that will be shown or sent to a model, for the safety policy to check before storing."""
        spec = self.spec
        return {
            "name": spec.name,
            "appearance": spec.appearance,
            "personality": spec.personality,
            "negative": spec.negative,
            "style": spec.style,
            "greeting": spec.greeting,
            "scenario": spec.scenario,
        }


def import_card(data: bytes, *, user_name: str | None = None, limits: CardLimits = DEFAULT_LIMITS) -> ImportedCard:
    """Read `data` (PNG, JSON or CHARX) and map it to persona settings; a `CardError` if anything is refused."""
    return card_to_persona(read_card(data, limits=limits), user_name=user_name)


def card_to_persona(card: CharacterCard, *, user_name: str | None = None) -> ImportedCard:
    notes: list[str] = []
    original_name = validation.clean_text(card.text("name"))
    nickname = validation.clean_text(card.text("nickname")) if card.version is CardVersion.V3 else ""
    name = _cut(nickname or original_name, validation.NAME_MAX, notes, "name", at=" ")

    def resolved(key: str) -> str:
        return resolve_macros(card.text(key), char_name=name, user_name=user_name)

    ours = _selfiebot_settings(card.extensions.get(SELFIEBOT_KEY))
    description, personality_text = resolved("description"), resolved("personality")
    sd_positive, sd_negative = _sd_prompt(card.extensions.get(SD_PROMPT_KEY))
    sd_positive = resolve_macros(sd_positive, char_name=name, user_name=user_name)

    traits: AppearanceTraits | None = None
    if ours is not None:
        appearance, source = ours.appearance, AppearanceSource.SELFIEBOT
    elif sd_positive:
        appearance, source = (
            _cut(sd_positive, validation.APPEARANCE_MAX, notes, "appearance", at=","),
            (AppearanceSource.SD_PROMPT),
        )
    else:
        traits = extract_appearance(f"{description}\n{personality_text}")
        appearance = traits.to_text(validation.APPEARANCE_MAX)
        source = AppearanceSource.DESCRIPTION if appearance else AppearanceSource.NONE
        if traits.apparent_minor:
            notes.append("the description gives an age under 18 or words for a child")
    if not appearance:
        appearance = FALLBACK_APPEARANCE
        notes.append("no physical description found; the appearance is a placeholder")

    if ours is not None:
        personality = ours.personality
    else:
        combined = " ".join(part for part in (personality_text, description) if part.strip())
        personality = _cut(combined, validation.PERSONALITY_MAX, notes, "personality", at=". ")
    greeting = _cut(resolved("first_mes"), GREETING_MAX, notes, "greeting", at=". ")
    scenario = _cut(resolved("scenario"), SCENARIO_MAX, notes, "scenario", at=". ")
    negative = ours.negative if ours else _cut(sd_negative, validation.NEGATIVE_MAX, notes, "negative", at=",")

    extras = _card_extras(card, derived={"name": name, "personality": personality, "greeting": greeting,
                                         "scenario": scenario})  # fmt: skip
    try:
        spec = PersonaSpec(
            name=validation.validate_name(name),
            appearance=validation.validate_appearance(appearance),
            personality=validation.validate_personality(personality),
            seed=ours.seed if ours else None,
            seed_mode=ours.seed_mode if ours else "fixed",
            negative=validation.validate_negative(negative),
            style=ours.style if ours else "",
            lora_scale=ours.lora_scale if ours else 0.8,
            lora_trigger=ours.lora_trigger if ours else "",
            ip_scale=ours.ip_scale if ours else 0.6,
            nsfw=ours.nsfw if ours else False,
            prompt_style=(ours.prompt_style or "") if ours else "",
            greeting=greeting,
            scenario=scenario,
            card_extras=extras,
        )
    except PersonaError as err:
        raise refuse(CardProblem.BAD_FIELD, f"card value cannot be used: {err.message}") from None
    scene = OfflineSceneExtractor().extract_sync([Turn(role="persona", content=scenario)], SceneState())
    return ImportedCard(
        spec=spec,
        card=card,
        appearance_source=source,
        traits=traits,
        starting_scene=scene,
        selfiebot=ours,
        picture=card.picture,
        lora=card.lora,
        notes=tuple(notes),
    )


def _cut(text: str, limit: int, notes: list[str], label: str, *, at: str) -> str:
    """`text` cleaned and, when over `limit`, cut at the last `at` separator (else a space) before it."""
    text = validation.clean_text(text or "")
    if len(text) <= limit:
        return text
    head = text[:limit]
    cut = head.rfind(at)
    if cut < limit // 2:
        cut = head.rfind(" ")
    cut_text = (head[: cut + (1 if at.startswith(".") else 0)] if cut > 0 else head).strip(" ,;")
    notes.append(f"{label} cut from {len(text)} to {len(cut_text)} characters")
    return cut_text


def _sd_prompt(value: Any) -> tuple[str, str]:
    """SillyTavern's image-generation extension stores `{"positive": str, "negative": str}`; a bare string is
    read as the positive prompt."""
    if isinstance(value, str):
        return value, ""
    if isinstance(value, dict):
        positive, negative = value.get("positive"), value.get("negative")
        return (positive if isinstance(positive, str) else "", negative if isinstance(negative, str) else "")
    return "", ""


def _selfiebot_settings(value: Any) -> SelfiebotSettings | None:
    """Our own block, checked field by field like a persona file: a hand-edited card gets no more trust."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY} must be an object")

    def number(key: str, default: float) -> float:
        raw = value.get(key, default)
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY}.{key} must be a number")
        return validation.validate_scale(raw, key.replace("_", " "))

    def text(key: str) -> str:
        raw = value.get(key, "")
        if not isinstance(raw, str):
            raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY}.{key} must be text")
        return raw

    try:
        seed = value.get("seed")
        look_version = value.get("look_version")
        prompt_style = value.get("prompt_style")
        if prompt_style is not None and prompt_style not in ("natural", "tags"):
            raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY}.prompt_style {prompt_style!r} unknown")
        if not isinstance(value.get("nsfw", False), bool):
            raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY}.nsfw must be true or false")
        return SelfiebotSettings(
            appearance=validation.validate_appearance(text("appearance")),
            personality=validation.validate_personality(text("personality")),
            seed=None if seed is None else validation.validate_seed(seed),
            seed_mode=validation.validate_seed_mode(value.get("seed_mode", "fixed")),
            negative=validation.validate_negative(text("negative")),
            style=validation.validate_style(text("style")),
            lora_scale=number("lora_scale", 0.8),
            lora_trigger=validation.validate_lora_trigger(text("lora_trigger")),
            ip_scale=number("ip_scale", 0.6),
            nsfw=value.get("nsfw", False),
            look_version=look_version if isinstance(look_version, int) and not isinstance(look_version, bool) else None,
            prompt_style=prompt_style,
        )
    except CardError:
        raise
    except PersonaError as err:
        raise refuse(CardProblem.BAD_FIELD, f"extensions.{SELFIEBOT_KEY}: {err.message}") from None


def _card_extras(card: CharacterCard, *, derived: dict[str, str]) -> dict[str, Any]:
    """What the persona does not hold, JSON-able: other fields, other extensions, the root's extra keys, and the
    original texts with what we derived from them (so an unchanged field is exported as it came)."""
    root_extras = {}
    if card.version is not CardVersion.V1:
        skipped = {"spec", "spec_version", "data", *V1_FIELDS}  # V1 copies of the data are written afresh
        root_extras = {k: v for k, v in card.document.items() if k not in skipped}
    return {
        "format": EXTRAS_FORMAT,
        "version": card.version.value,
        "data": {k: v for k, v in card.fields.items() if k not in MAPPED_FIELDS},
        "extensions": {k: v for k, v in card.extensions.items() if k != SELFIEBOT_KEY},
        "root": root_extras,
        "original": {key: card.text(key) for key in MAPPED_FIELDS if key != "extensions" and key in card.fields},
        "derived": derived,
    }
