"""`selfiebot train-lora`: train a LoRA from a folder of pictures, printing one JSON line per step.

Bad input (a missing folder, a file that is no picture, too few or too large pictures, a bad setting, a model that
does not load, a checkpoint that does not fit) ends with one sentence on stderr and exit status 2. Ctrl-C or SIGTERM
stops after the current step, writes a checkpoint and exits 130; `--resume` continues from it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from pathlib import Path

PROG = "selfiebot train-lora"


class _OneSentenceParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"{PROG}: {message}.", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _OneSentenceParser(prog=PROG, description="Train a persona LoRA (DreamBooth-style) from pictures.")
    parser.add_argument("--model", required=True, help="diffusers folder, hub id, .safetensors file, or demo")
    parser.add_argument("--images", required=True, type=Path, help="folder of PNG/JPEG/WebP pictures (+ .txt captions)")
    parser.add_argument("--trigger", required=True, help="rare trigger word that will call up the persona")
    parser.add_argument("--class-word", default="person", help="what the persona is: woman, man, person (default)")
    parser.add_argument("--steps", type=int, help="optimisation steps (default: per model, see docs)")
    parser.add_argument("--rank", type=int, help="LoRA rank (default: 16; 4 for the demo model)")
    parser.add_argument("--lr", type=float, help="AdamW learning rate (default: 1e-4; 1e-2 for the demo model)")
    parser.add_argument("--resolution", type=int, help="training size in pixels (default: the model's native size)")
    parser.add_argument("--seed", type=int, help="seed of every random draw (default: 0)")
    parser.add_argument("--batch-size", type=int, help="pictures per step (default: 1)")
    parser.add_argument("--text-encoder", action="store_true", help="also train a LoRA on the text encoder(s)")
    parser.add_argument("--checkpoint-every", type=int, help="steps between checkpoints (default: 100; 25 demo)")
    parser.add_argument("--checkpoint-dir", type=Path, help="where checkpoints go (default: OUT with .checkpoint)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint, if there is one")
    parser.add_argument("--format", choices=["diffusers", "kohya"], default="diffusers", help="key layout of OUT")
    parser.add_argument("--device", default=os.environ.get("DEVICE", "auto"))
    parser.add_argument("--dtype", default=os.environ.get("DTYPE", "auto"), help="auto, float16, bfloat16, float32")
    parser.add_argument("--out", required=True, type=Path, help="the LoRA file to write (.safetensors)")
    return parser


def train_lora_main(argv: list[str]) -> int:
    started = time.perf_counter()
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exit:  # --help, or a usage error already told in one sentence
        return int(exit.code or 0)
    if args.out.suffix != ".safetensors":
        return _fail(f"--out must name a .safetensors file, not {args.out.name}")
    from generation.devices import resolve_device, resolve_dtype
    from generation.errors import GenerationError
    from generation.loading import load_pipeline
    from generation.logs import quiet_library_logs
    from generation.training import (
        LoraFormat,
        RunState,
        TrainingError,
        TrainingRun,
        load_training_folder,
        recommended_settings,
    )

    quiet_library_logs()
    _hide_progress_bars()  # stdout carries JSON only, stderr one sentence when something is wrong
    try:
        training_set = load_training_folder(args.images, trigger=args.trigger, class_word=args.class_word)
        device = resolve_device(args.device)
        dtype = resolve_dtype(args.dtype, device)
        loaded = load_pipeline(args.model, device, dtype, Path(os.environ.get("DATA_DIR", "data")))
        loaded.pipe.set_progress_bar_config(disable=True)
        settings = recommended_settings(
            loaded.pipe,
            training_set.trigger,
            class_word=training_set.class_word,
            steps=args.steps,
            rank=args.rank,
            learning_rate=args.lr,
            resolution=args.resolution,
            seed=args.seed,
            batch_size=args.batch_size,
            train_text_encoder=args.text_encoder or None,
            checkpoint_every=args.checkpoint_every,
        )
        checkpoint_dir = args.checkpoint_dir or args.out.with_suffix(".checkpoint")
        run = TrainingRun(
            loaded.pipe, training_set, settings, checkpoint_dir=checkpoint_dir, resume=args.resume,
            model_label=args.model,
        )  # fmt: skip
    except (GenerationError, ValueError) as error:
        return _fail(str(error))

    stop = _StopFlag()
    try:
        state = run.run(
            should_cancel=stop.is_set,
            on_progress=lambda report: print(json.dumps(report.as_json()), flush=True),
        )
        if state is RunState.CANCELLED:
            run.save_checkpoint()
            print(f"{PROG}: stopped after step {run.step_count}; run again with --resume to continue.", file=sys.stderr)
            return 130
        out = run.export(args.out, lora_format=LoraFormat(args.format))
    except TrainingError as error:
        print(f"{PROG}: {error}.", file=sys.stderr)
        return 1
    finally:
        stop.restore()
        run.close()
    print(json.dumps({"out": str(out), "steps": run.step_count, "seconds": round(time.perf_counter() - started, 2)}))
    return 0


def _hide_progress_bars() -> None:
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()


def _fail(message: str) -> int:
    print(f"{PROG}: {message.rstrip('.')}.", file=sys.stderr)
    return 2


class _StopFlag:
    """Ctrl-C and SIGTERM ask training to stop after the current step (and checkpoint) instead of killing it."""

    def __init__(self) -> None:
        self._set = False
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
