from __future__ import annotations

from personas.models import SceneState, Turn
from personas.scene import OfflineSceneExtractor, with_request


def persona(text: str) -> Turn:
    return Turn(role="persona", content=text)


def user(text: str) -> Turn:
    return Turn(role="user", content=text)


async def scene_after(*turns: Turn, current: SceneState | None = None) -> SceneState:
    return await OfflineSceneExtractor().extract(list(turns), current or SceneState())


async def test_newer_cues_replace_older():
    scene = await scene_after(persona("at the beach in my red sundress ☀️"), persona("ok now I'm at the library"))
    assert scene.location == "library"
    assert scene.outfit == "red sundress"
    assert scene.weather == "sunny"


async def test_explicit_change_clears_stale_cues():
    scene = await scene_after(
        persona("jogging in the park with my dog"),
        persona("left the park, I'm back at my flat and I switched into my gym clothes"),
    )
    assert scene.location == "home"
    assert scene.outfit == "gym clothes"
    assert scene.activity is None and scene.props == [], "the park's activity and dog are stale"


async def test_negation_and_leaving():
    start = SceneState(location="beach", weather="rainy", outfit="hoodie, jeans")
    scene = await scene_after(
        persona("I'm not at the beach anymore"),
        persona("it's not raining anymore"),
        persona("took off my hoodie"),
        current=start,
    )
    assert scene.location is None and scene.weather is None and scene.outfit == "jeans"


async def test_tense():
    scene = await scene_after(persona("I was at the gym earlier, now home"), persona("I'll go to the pool tomorrow"))
    assert scene.location == "home"


async def test_users_whereabouts_are_not_the_personas():
    scene = await scene_after(user("I'm stuck at work, it's pouring here"), persona("aw! I'm on the couch"))
    assert scene.location == "living room" and scene.weather is None


async def test_other_people_are_not_the_persona():
    scene = await scene_after(persona("my sister is at the zoo, i'm at the cafe"))
    assert scene.location == "cafe"


async def test_selfie_memory_lines_do_not_move_the_scene():
    scene = await scene_after(Turn(role="selfie", content="sent a selfie: on a sandy beach"))
    assert scene == SceneState()


async def test_request_overrides_only_that_picture():
    extractor = OfflineSceneExtractor()
    persistent = await extractor.extract([persona("reading a book at the cafe with my coffee")], SceneState())
    picture = with_request(persistent, extractor.request_overrides("a pic from the library pls"))
    assert picture.location == "library" and picture.activity is None and picture.props == []
    assert persistent.location == "cafe" and persistent.activity == "reading"


async def test_extract_does_not_change_current():
    current = SceneState(location="beach", props=["dog"])
    await scene_after(persona("at home with my cat"), current=current)
    assert current == SceneState(location="beach", props=["dog"])
