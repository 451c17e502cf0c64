"""`plan_selfie`: the one path from a conversation to a selfie's prompt, used by both the bot and the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from personas.intent import detect_selfie_request, persona_says_sending
from personas.models import Persona, SceneState, Turn
from personas.prompting import FRAMING_FOR_KIND, CountTokens, PromptStyle, build_prompt
from personas.scene import OfflineSceneExtractor, SceneExtractor, with_request
from personas.seeds import selfie_seed


@dataclass(frozen=True)
class SelfiePlan:
    selfie_request: bool
    request_kind: str | None
    scene: SceneState  # for this picture, with the request's one-off overrides
    persistent_scene: SceneState  # to save: what the conversation established, without the overrides
    prompt: str
    negative_prompt: str
    seed: int
    dropped: tuple[str, ...] = ()


async def plan_selfie(
    persona: Persona,
    turns: Sequence[Turn],
    scene_state: SceneState,
    request_text: str | None = None,
    extractor: SceneExtractor | None = None,
    count_tokens: CountTokens | None = None,
    nonce: int = 0,
    kind: str | None = None,
    prompt_style: PromptStyle | str = PromptStyle.NATURAL,
) -> SelfiePlan:
    """Update the scene from `turns`, read the request (by default the last turn, if the user wrote it) and build
    the prompt. `kind` forces a request kind (the `/selfie` command); `nonce` varies `varied`-mode seeds."""
    extractor = extractor or OfflineSceneExtractor()
    persistent = await extractor.extract(turns, scene_state)

    last = turns[-1] if turns else None
    if request_text is None and last is not None and last.role == "user":
        request_text = last.content
    request = detect_selfie_request(request_text) if request_text else None
    is_request = request is not None or kind is not None
    if request is None and last is not None and last.role == "persona" and persona_says_sending(last.content):
        is_request = True
    chosen_kind = kind or (request.kind if request else "selfie")

    offline = extractor if isinstance(extractor, OfflineSceneExtractor) else OfflineSceneExtractor()
    overrides = request.scene if request else (offline.request_overrides(request_text) if request_text else None)
    scene = with_request(persistent, overrides or SceneState())
    if not scene.framing or (request and request.kind != "selfie"):
        scene = scene.with_overrides(SceneState(framing=FRAMING_FOR_KIND[chosen_kind]))

    built = build_prompt(persona, scene, chosen_kind, count_tokens=count_tokens, style=prompt_style)
    return SelfiePlan(
        selfie_request=is_request,
        request_kind=chosen_kind if is_request else None,
        scene=scene,
        persistent_scene=persistent,
        prompt=built.prompt,
        negative_prompt=built.negative_prompt,
        seed=selfie_seed(persona.seed, persona.seed_mode, nonce),
        dropped=tuple(built.dropped),
    )
