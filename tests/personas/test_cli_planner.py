from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from personas import examples_dir
from personas.files import load_persona_file
from personas.models import SceneState, Turn
from personas.planner import plan_selfie

MIRA = examples_dir() / "mira.toml"
KENJI = examples_dir() / "kenji.toml"
CONVERSATION = {
    "messages": [
        {"author": "persona", "content": "at the gym rn, leg day 😩"},
        {"author": "persona", "content": "ok done, back at my flat now and i switched into my pajamas"},
        {"author": "user", "content": "pic? 🥺"},
    ]
}


def run_prompt(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("selfiebot")
    command = [exe] if exe else [sys.executable, "-m", "bot.cli"]
    return subprocess.run(
        [*command, "prompt", *args], input=stdin, capture_output=True, text=True, timeout=30, check=False
    )


def test_prompt_command_single():
    result = run_prompt("--persona", str(MIRA), stdin=json.dumps(CONVERSATION))
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert set(line) == {"selfie_request", "request_kind", "scene", "prompt", "negative_prompt", "seed"}
    assert line["selfie_request"] is True and line["request_kind"] == "selfie"
    assert line["scene"]["location"] == "home" and line["scene"]["outfit"] == "pajamas"
    assert "gym" not in line["prompt"] and "pajamas" in line["prompt"]
    assert line["prompt"].startswith(load_persona_file(MIRA).appearance)
    assert line["seed"] == 1234567


def test_prompt_command_batch_and_bad_lines():
    not_a_request = {"messages": [{"author": "user", "content": "my selfie from last week was blurry"}]}
    stdin = "\n".join([json.dumps(CONVERSATION), "{broken", json.dumps(not_a_request)]) + "\n"
    result = run_prompt("--persona", str(KENJI), "--batch", stdin=stdin)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 1 and len(lines) == 3
    assert lines[0]["selfie_request"] is True
    assert "error" in lines[1]
    assert lines[2]["selfie_request"] is False and lines[2]["request_kind"] is None


def test_prompt_command_bad_persona_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "X"\n', encoding="utf-8")
    result = run_prompt("--persona", str(bad), stdin="{}")
    assert result.returncode == 2 and "appearance" in result.stderr and result.stderr.count("\n") == 1


def test_prompt_path_does_not_import_torch():
    code = (
        "import sys, json, io, personas.cli;"
        "sys.stdin = io.StringIO(json.dumps({'messages': [{'author': 'user', 'content': 'selfie?'}]}));"
        f"assert personas.cli.prompt_main(['--persona', {str(MIRA)!r}]) == 0;"
        "assert 'torch' not in sys.modules and 'discord' not in sys.modules, 'heavy import'"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("nonce", [0, 1])
async def test_plan_selfie_seeds_and_request(nonce):
    kenji = load_persona_file(KENJI).to_persona()  # seed_mode = "varied"
    turns = [
        Turn(role="persona", content="cooking in my kitchen"),
        Turn(role="user", content="send a pic from the park"),
    ]
    plan = await plan_selfie(kenji, turns, SceneState(), nonce=nonce)
    again = await plan_selfie(kenji, turns, SceneState(), nonce=nonce)
    assert plan == again
    assert plan.selfie_request and plan.scene.location == "park" and plan.persistent_scene.location == "kitchen"
    assert plan.seed != kenji.seed


async def test_plan_selfie_when_persona_says_it_sends_one():
    mira = load_persona_file(MIRA).to_persona()
    plan = await plan_selfie(mira, [Turn(role="persona", content="here's a selfie from the beach 📸")], SceneState())
    assert plan.selfie_request and plan.scene.location == "beach"


def test_examples_dir_is_importable_data():
    assert Path(examples_dir()).is_dir() and MIRA.exists()
