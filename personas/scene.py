"""Scene state per (persona, channel), updated from each new turn.

`SceneExtractor` is the interface; `OfflineSceneExtractor` is the rule-based one that needs nothing but this
package. Rules, in short: only the persona's own words move its scene (the user's "I'm at work" is about the user);
newer cues replace older ones; negation and leaving clear a cue; past and future statements are ignored; a new
location makes the old activity and props stale unless the same turn restates them. Places and garments the
vocabulary does not know are kept in the speaker's words (personas/phrases.py), never swapped for another item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from personas.cues import ClauseCues, Speaker, read_clause
from personas.models import SceneState, Turn
from personas.text import clauses
from personas.vocabulary import Vocabulary, load_vocabulary

MAX_PROPS = 3


class SceneExtractor(Protocol):
    async def extract(self, turns: Sequence[Turn], current: SceneState) -> SceneState:
        """The scene after `turns` (oldest first) on top of `current`; `current` itself is never changed."""
        ...


def outfit_items(outfit: str | None) -> list[str]:
    return [item.strip() for item in (outfit or "").split(",") if item.strip()]


def _names_one_of(value: str | None, dropped: set[str]) -> bool:
    """'left the mountain' clears "snowy mountain": a kept phrase ends in the word that names it."""
    return bool(value) and any(value == d or value.endswith(" " + d) or d.endswith(" " + value) for d in dropped)


def _join(items: list[str]) -> str | None:
    return ", ".join(dict.fromkeys(items)) or None


class _TurnUpdate:
    """Applies one turn's clauses to a scene, remembering what the turn itself said."""

    def __init__(self, scene: SceneState) -> None:
        self.values = scene.to_dict()
        self.set_this_turn: set[str] = set()
        self.outfit_restated = False

    def apply(self, cues: ClauseCues) -> None:
        for name, dropped in cues.clears.items():
            if _names_one_of(self.values.get(name), dropped):
                self.values[name] = None
        for name, value in cues.sets.items():
            self.values[name] = value
            self.set_this_turn.add(name)
        items = outfit_items(self.values["outfit"])
        if cues.removed_garments:
            items = [item for item in items if not any(g in item for g in cues.removed_garments)]
        if cues.outfit_items:
            # The first outfit statement of a turn describes a new outfit; later ones in the same turn add to it.
            # ...unless it swaps one garment for another ("swapped the hoodie for a tank top").
            keep = self.outfit_restated or bool(cues.removed_garments)
            items = (items if keep else []) + cues.outfit_items
            self.outfit_restated = True
        items += [a for a in cues.accessories if a not in items]
        self.values["outfit"] = _join(items)
        if cues.props:
            self.values["props"] = [*self.values["props"], *cues.props]
            self.set_this_turn.add("props")

    def finish(self, before: SceneState) -> SceneState:
        if "location" in self.set_this_turn and self.values["location"] != before.location:
            for stale in ("activity", "props"):
                if stale not in self.set_this_turn:
                    self.values[stale] = [] if stale == "props" else None
        props = list(dict.fromkeys(self.values["props"]))
        self.values["props"] = props[-MAX_PROPS:]
        return SceneState.from_dict(self.values)


def scene_from_text(
    text: str, speaker: Speaker, current: SceneState, vocabulary: Vocabulary, *, request: bool = False
) -> SceneState:
    update = _TurnUpdate(current)
    for clause in clauses(text):
        update.apply(read_clause(clause, speaker, vocabulary, request=request))
    return update.finish(current)


class OfflineSceneExtractor:
    """Rule-based extractor over the packaged vocabulary; deterministic and fast (no network, no model)."""

    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        self.vocabulary = vocabulary or load_vocabulary()

    def extract_sync(self, turns: Sequence[Turn], current: SceneState) -> SceneState:
        scene = current
        for turn in turns:
            if turn.role == "persona":  # users' own whereabouts and "sent a selfie" lines do not move the scene
                scene = scene_from_text(turn.content, "persona", scene, self.vocabulary)
        return scene

    async def extract(self, turns: Sequence[Turn], current: SceneState) -> SceneState:
        return self.extract_sync(turns, current)

    def request_overrides(self, text: str) -> SceneState:
        """Cues a user's picture request names for this one picture ("a pic from the library")."""
        return scene_from_text(text, "user", SceneState(), self.vocabulary, request=True)


def with_request(persistent: SceneState, overrides: SceneState) -> SceneState:
    """The scene for one picture: the request's cues win; a different place drops the old activity and props."""
    scene = persistent
    if overrides.location and overrides.location != persistent.location:
        scene = replace(scene, activity=None, props=[])
    return scene.with_overrides(overrides)
