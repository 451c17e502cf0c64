"""`selfiebot render` (one picture, or the best of N candidates for likeness) and `selfiebot demo-kit`."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def demo_kit_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="selfiebot demo-kit", description="Write the offline demo model kit.")
    parser.add_argument("directory", type=Path, help="where to write pipeline/, ip_adapter/, loras/, references/")
    parser.add_argument("--shape", choices=["tiny", "bench"], default="tiny", help="network size (default: tiny)")
    args = parser.parse_args(argv)
    from generation.demo_kit import write_demo_kit

    kit = write_demo_kit(args.directory, args.shape)
    print(
        json.dumps(
            {
                "pipeline": str(kit.pipeline),
                "ip_adapter": str(kit.ip_adapter),
                "loras": [str(p) for p in kit.loras],
                "references": [str(p) for p in kit.references],
            }
        )
    )
    return 0


def _render_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selfiebot render", description="Render one picture, reproducibly.")
    parser.add_argument("--model", required=True, help="diffusers folder, hub id, .safetensors file, or demo")
    parser.add_argument("--prompt", required=True)
    parser.add_argument("--negative", default="")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=7.0)
    parser.add_argument(
        "--scheduler",
        default="default",
        help="sampler: default (the model's own), euler, euler_a, dpmpp_2m, dpmpp_2m_karras, ddim, lcm, tcd",
    )
    parser.add_argument("--width", type=int, help="default: the model's native size")
    parser.add_argument("--height", type=int, help="default: the model's native size")
    parser.add_argument("--lora", type=Path)
    parser.add_argument("--lora-scale", type=float, default=1.0)
    parser.add_argument(
        "--reference",
        type=Path,
        action="append",
        help="reference picture for the IP-Adapter; with --candidates, repeat it to score against several (the first "
        "conditions the IP-Adapter)",
    )
    parser.add_argument("--ip-adapter", type=Path, help="IP-Adapter folder (weights + image_encoder/)")
    parser.add_argument("--ip-scale", type=float, default=0.6)
    parser.add_argument("--device", default=os.environ.get("DEVICE", "auto"))
    parser.add_argument("--dtype", default=os.environ.get("DTYPE", "auto"), help="auto, float16, bfloat16, float32")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--candidates",
        type=int,
        help="draw N candidates in one batch, score them against --reference and write the most alike",
    )
    return parser


def render_main(argv: list[str]) -> int:
    args = _render_parser().parse_args(argv)
    if args.reference and not args.ip_adapter and args.model != "demo":
        print("selfiebot render: --reference needs --ip-adapter DIR.", file=sys.stderr)
        return 2
    if args.candidates is not None and (args.candidates < 1 or not args.reference):
        print("selfiebot render: --candidates needs a count of at least 1 and a --reference.", file=sys.stderr)
        return 2
    from generation.devices import resolve_device, resolve_dtype
    from generation.engine import Engine
    from generation.errors import GenerationError
    from generation.loading import load_pipeline
    from generation.logs import quiet_library_logs
    from generation.request import GenerationRequest
    from generation.schedulers import parse_scheduler

    quiet_library_logs()
    try:
        device = resolve_device(args.device)
        dtype = resolve_dtype(args.dtype, device)
        loaded = load_pipeline(args.model, device, dtype, Path(os.environ.get("DATA_DIR", "data")))
        engine = Engine(loaded, ip_adapter=args.ip_adapter if args.reference else None, cache_dir=None)
        if not args.reference:
            loaded.default_ip_adapter = None
        request = GenerationRequest(
            prompt=args.prompt,
            negative_prompt=args.negative,
            seed=args.seed,
            steps=args.steps,
            guidance=args.guidance,
            width=args.width or engine.native_size,
            height=args.height or engine.native_size,
            lora_path=args.lora,
            lora_scale=args.lora_scale,
            reference_path=args.reference[0] if args.reference else None,
            ip_scale=args.ip_scale,
            scheduler=parse_scheduler(args.scheduler).value,
        )
        started = time.perf_counter()
        if args.candidates is None:
            prepared = engine.prepare(request)
            image = engine.run([prepared])[0]
            best_of = {}
        else:
            image, request, prepared, best_of = _render_candidates(engine, request, args.reference, args.candidates)
        elapsed = time.perf_counter() - started
    except (GenerationError, ValueError) as error:
        print(f"selfiebot render: {error}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.out)
    report = {
        "model": args.model,
        **request.parameters(),
        "lora_sha256": prepared.lora_hash,
        "reference_sha256": prepared.reference_hash,
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "generation_s": round(elapsed, 3),
        "out": str(args.out),
        **best_of,
    }
    report.pop("identity", None)
    print(json.dumps(report))
    return 0


def _render_candidates(engine, request, references: list[Path], count: int):
    """The best of `count` candidates: (picture, its request, its prepared request, report fields). The report's
    `seed` is the chosen one, so the line stays a recipe for the picture; `base_seed` is the seed asked for."""
    from generation.identity import IdentityScorer, render_best_of
    from generation.identity.cli import open_identity_image

    scorer = IdentityScorer.create(pipe=engine.pipe)
    pictures = [open_identity_image(path) for path in references]
    best = render_best_of(engine, request, references=pictures, scorer=scorer, count=count)
    prepared = engine.prepare(best.request)  # cached assets: only the hashes for the report
    return best.image, best.request, prepared, {"base_seed": request.seed, **best.report()}
