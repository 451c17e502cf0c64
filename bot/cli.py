"""The `selfiebot` console script. Each subcommand imports only what it needs (`prompt` must not import torch)."""

from __future__ import annotations

import sys

USAGE = """usage: selfiebot COMMAND [options]

commands:
  run        run the Discord bot (reads the environment / .env)
  demo       offline walk-through: demo persona, scripted chat, selfies written to a folder
  demo-kit   write the demo model kit (pipeline, IP-Adapter, LoRAs, references) to a folder
  render     render one picture and print its effective parameters as JSON
  identity   score pictures for likeness to reference pictures (identity score --reference IMG IMAGE...)
  train-lora train a persona LoRA from a folder of pictures (JSON progress lines)
  prompt     turn a conversation (JSON on stdin) into a selfie prompt, without torch
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(USAGE)
        return 0
    command, rest = args[0], args[1:]
    if command == "render":
        from generation.cli import render_main

        return render_main(rest)
    if command == "identity":
        from generation.identity.cli import identity_main

        return identity_main(rest)
    if command == "train-lora":
        from generation.training.cli import train_lora_main

        return train_lora_main(rest)
    if command == "demo-kit":
        from generation.cli import demo_kit_main

        return demo_kit_main(rest)
    if command == "prompt":
        from personas.cli import prompt_main

        return prompt_main(rest)
    if command == "demo":
        from bot.demo import demo_main

        return demo_main(rest)
    if command == "run":
        from bot.runner import run_main

        return run_main(rest)
    print(f"selfiebot: unknown command {command!r}; run `selfiebot --help` to see the commands.", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
