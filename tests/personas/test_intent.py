from __future__ import annotations

import pytest

from personas.intent import detect_selfie_request, persona_says_sending


@pytest.mark.parametrize(
    "text", ["selfie?? 🥺", "can you send a pic", "lemme see you", "what are you wearing? pic", "SELFIEEE pls"]
)
def test_requests(text):
    assert detect_selfie_request(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "my selfie from last week was blurry",
        "no photos please",
        "show me how to fix my bike",
        "want me to send you a pic?",
        "i'll send you a photo of my cat",
        "",
    ],
)
def test_not_requests(text):
    assert detect_selfie_request(text) is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("selfie pls", "selfie"),
        ("close up of your face pls", "face"),
        ("what are you wearing? pic", "full_body"),
        ("send a full body shot", "full_body"),
    ],
)
def test_request_kind(text, kind):
    assert detect_selfie_request(text).kind == kind


def test_request_names_its_own_scene():
    request = detect_selfie_request("send a pic from the library in your pajamas ☔")
    assert request.scene.location == "library"
    assert request.scene.outfit == "pajamas"
    assert request.scene.weather == "rainy"


def test_users_own_whereabouts_are_not_the_scene():
    request = detect_selfie_request("I'm stuck at work 😩 send a selfie")
    assert request is not None and request.scene.location is None


@pytest.mark.parametrize("text", ["here's a selfie 📸", "sending you a pic now!", "*sends a selfie*", "ok here you go"])
def test_persona_sending(text):
    assert persona_says_sending(text)


@pytest.mark.parametrize(
    "text", ["i'll send one later", "I don't send pics", "here's the thing, i'm busy", "can't send photos rn"]
)
def test_persona_not_sending(text):
    assert not persona_says_sending(text)


def test_prompt_syntax_does_not_hide_a_request_or_its_scene():
    request = detect_selfie_request("send me a selfie at the (((beach:1.5))) <lora:evil:1> [x|y] \u200b")
    assert request is not None and request.scene.location == "beach"
    assert detect_selfie_request("\u200b\u202e") is None
