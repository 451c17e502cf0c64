"""`selfiebot demo`: an offline walk-through of what a server sees, without Discord.

It creates the example persona Mira (with the demo kit's LoRA and reference when MODEL=demo), plays a scripted
chat through the same store, scene tracking, prompt planner and generation service the bot uses, and writes each
selfie plus a contact sheet to a folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path

DEMO_GUILD, DEMO_CHANNEL, DEMO_USER = 1, 10, 100

# (author, text): the persona's lines move the scene; the user's lines ask for pictures.
SCRIPT: list[tuple[str, str]] = [
    ("user", "hey mira! what are you up to today?"),
    ("persona", "just got to the beach 🌊 wearing my yellow sundress, the waves are huge"),
    ("user", "omg send a selfie!"),
    ("persona", "ugh it started raining so I ran back to my flat and changed into my pajamas"),
    ("user", "lemme see you"),
    ("persona", "now I'm sketching on the couch with a cup of tea ☕"),
    ("user", "full body pic?"),
    ("user", "can you send a pic from the library?"),
]


@dataclass
class DemoSelfie:
    index: int
    request: str
    prompt: str
    seed: int
    path: Path
    scene: str


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfiebot demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("demo-output"), help="folder for selfies (default: demo-output)"
    )
    parser.add_argument("--steps", type=int, help="denoising steps (default: 4 for the demo model, else SELFIE_STEPS)")
    parser.add_argument("--size", type=int, help="picture size in pixels (default: the model's native size)")
    return parser


def demo_main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from generation.logs import quiet_library_logs

    quiet_library_logs()
    from bot.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"selfiebot demo: {error}", file=sys.stderr)
        return 2
    try:
        asyncio.run(run_demo(settings, args.out, args.steps, args.size))
    except Exception as error:  # one sentence for the person at the terminal; details in the log
        logging.getLogger(__name__).debug("demo failed", exc_info=True)
        print(f"selfiebot demo: {error}", file=sys.stderr)
        return 1
    return 0


async def run_demo(settings, out: Path, steps: int | None, size: int | None) -> list[DemoSelfie]:
    from bot import safety
    from bot.pictures import request_for
    from bot.runner import load_engine
    from generation.service import GenerationService
    from personas import list_example_personas
    from personas.files import load_persona_file
    from personas.planner import plan_selfie
    from personas.prompting import describe_scene
    from personas.store import PersonaStore

    out.mkdir(parents=True, exist_ok=True)
    print(f"Loading the image model ({settings.model}) on {settings.device}…")
    engine = await load_engine(settings)
    size = size or settings.selfie_size or engine.native_size
    steps = steps or (4 if settings.model == "demo" else settings.selfie_steps)
    drawing = replace(settings, selfie_steps=steps, selfie_size=size)  # the demo's own steps and size

    spec = load_persona_file(next(p for p in list_example_personas() if p.stem == "mira"))
    identity = _demo_identity(settings) if settings.model == "demo" else {}
    database = out / "demo.sqlite3"
    database.unlink(missing_ok=True)
    selfies: list[DemoSelfie] = []
    service = GenerationService(engine)
    try:
        async with await PersonaStore.open(database) as store:
            persona = await store.create_persona(DEMO_GUILD, **(spec.settings() | identity))
            await store.activate(DEMO_GUILD, DEMO_CHANNEL, persona.id)
            print(f"Created persona {persona.name} (seed {persona.seed}, look version {persona.version}).\n")
            for author, text in SCRIPT:
                role = "user" if author == "user" else "persona"
                speaker = "you" if role == "user" else persona.name
                print(f"{speaker:>6}: {text}")
                await store.add_turn(
                    DEMO_GUILD, DEMO_CHANNEL, persona.id, DEMO_USER if role == "user" else None, role, text
                )
                if role != "user":
                    continue
                turns = await store.recent_turns(DEMO_GUILD, DEMO_CHANNEL, persona.id)
                scene = await store.get_scene(DEMO_GUILD, DEMO_CHANNEL, persona.id)
                nonce = await store.selfie_count(DEMO_GUILD, persona.id)
                plan = await plan_selfie(persona, turns, scene, count_tokens=engine.count_tokens, nonce=nonce)
                await store.save_scene(DEMO_GUILD, DEMO_CHANNEL, persona.id, plan.persistent_scene)
                if not plan.selfie_request:
                    continue
                # The same picture policy as the bot (judged as a channel that is not age-restricted).
                decision = safety.check_picture(
                    persona, None, request=text, prompt=plan.prompt, negative=plan.negative_prompt
                )
                if not decision.allowed:
                    print(f"{persona.name:>6}: {decision.decline}")
                    continue
                prompt, negative = decision.harden(plan.prompt, plan.negative_prompt)
                request = request_for(
                    persona, prompt=prompt, negative=negative, seed=plan.seed, settings=drawing, engine=engine
                )
                result = await service.generate(request)
                index = len(selfies) + 1
                path = out / f"selfie-{index}.png"
                result.image.save(path)
                shown = describe_scene(plan.scene)
                await store.record_selfie(
                    guild_id=DEMO_GUILD,
                    channel_id=DEMO_CHANNEL,
                    persona_id=persona.id,
                    persona_version=persona.version,
                    requester_id=DEMO_USER,
                    prompt=prompt,
                    negative=negative,
                    seed=plan.seed,
                    parameters=result.report(),
                )
                await store.add_turn(DEMO_GUILD, DEMO_CHANNEL, persona.id, None, "selfie", f"sent a selfie: {shown}")
                selfies.append(DemoSelfie(index, text, prompt, plan.seed, path, shown))
                print(f"{persona.name:>6}: [selfie {index}: {shown}] -> {path}")
                print(f"{'':>8}prompt: {prompt}")
                print(f"{'':>8}seed {plan.seed}, {steps} steps, {size}x{size}, {result.generation_s:.2f} s")
    finally:
        await service.close()
    sheet = write_contact_sheet(selfies, out / "contact-sheet.png")
    summary = out / "demo.json"
    summary.write_text(
        json.dumps(
            [
                {"request": s.request, "scene": s.scene, "prompt": s.prompt, "seed": s.seed, "file": str(s.path)}
                for s in selfies
            ],
            indent=2,
        )
        + "\n"
    )
    print(f"\nWrote {len(selfies)} selfies, {sheet} and {summary}.")
    if settings.model == "demo":
        print(
            "MODEL=demo draws noise from random weights; set MODEL to real Stable Diffusion weights for real pictures."
        )
    return selfies


def _demo_identity(settings) -> dict:
    """The demo kit's first LoRA and reference, so the walk-through exercises the whole identity path."""
    from generation.assets import sha256_file
    from generation.demo_kit import ensure_demo_kit

    kit = ensure_demo_kit(settings.data_dir / "models")
    lora, reference = kit.loras[1], kit.references[0]
    return {
        "lora_path": str(lora),
        "lora_hash": sha256_file(lora),
        "reference_path": str(reference),
        "reference_hash": sha256_file(reference),
    }


def write_contact_sheet(selfies: list[DemoSelfie], path: Path, tile: int = 192) -> Path:
    """All selfies side by side, each labelled with what it shows, to judge consistency at a glance."""
    from PIL import Image, ImageDraw

    columns = max(1, min(4, len(selfies)))
    rows = max(1, -(-len(selfies) // columns))
    label_height = 28
    sheet = Image.new("RGB", (columns * tile, rows * (tile + label_height)), "white")
    draw = ImageDraw.Draw(sheet)
    for position, selfie in enumerate(selfies):
        x, y = (position % columns) * tile, (position // columns) * (tile + label_height)
        with Image.open(selfie.path) as picture:
            sheet.paste(picture.convert("RGB").resize((tile, tile)), (x, y))
        draw.text((x + 4, y + tile + 4), f"{selfie.index}. {selfie.scene}"[:30], fill="black")
    sheet.save(path)
    return path
