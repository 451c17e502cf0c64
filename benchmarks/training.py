"""Training benchmark: seconds per step, and the denoising loss on the training pictures with the trained LoRA
against the base model. Prints (and optionally writes) one JSON object; asserts nothing.

    python benchmarks/training.py                                  # demo `tiny` model, its references, CPU
    python benchmarks/training.py --shape bench                    # the bigger demo UNet (128 px)
    python benchmarks/training.py --model PATH --images DIR --trigger WORD [--class-word woman] [--steps N]
        [--identity --ip-adapter DIR]                              # real weights; identity scores of renders

The loss is measured with fixed pictures (centred, unflipped), fixed noise and fixed timesteps under the trigger
prompt, on the LoRA as written to disk and loaded back with diffusers' `load_lora_weights`. It is also measured
under the class prompt without the trigger: a LoRA that lowers that as much has not tied the look to its trigger.
Identity scores (real weights only; the demo model draws noise) compare renders of the same scenes and seeds
without and with the LoRA, scored against the training pictures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.devices import resolve_device, resolve_dtype  # noqa: E402
from generation.loading import LoadedModel, load_pipeline  # noqa: E402
from generation.logs import quiet_library_logs  # noqa: E402
from generation.training import (  # noqa: E402
    DenoisingProbe,
    TrainingRun,
    load_training_folder,
    recommended_settings,
    training_set_from_pictures,
)

IDENTITY_SCENES = ("at the beach", "in a cafe", "in the snow", "on a city street at night")


def identity_comparison(engine, lora: Path, training_set, *, ip_adapter: Path | None, seeds: int, steps: int) -> dict:
    """Mean identity score of renders without and with `lora` (same scenes, same seeds) against the training
    pictures. The hook for likeness on real weights; on the demo model the numbers mean nothing."""
    from generation.identity import IdentityScorer
    from generation.request import GenerationRequest

    scorer = IdentityScorer.create(ip_adapter=ip_adapter, device=engine.device)
    references = [example.image for example in training_set.examples]
    results = {}
    for label, lora_path in (("without_lora", None), ("with_lora", lora)):
        pictures = []
        for scene in IDENTITY_SCENES:
            for seed in range(1, seeds + 1):
                request = GenerationRequest(
                    prompt=f"{training_set.trigger_caption}, {scene}", seed=seed, steps=steps,
                    width=engine.native_size, height=engine.native_size, lora_path=lora_path,
                )  # fmt: skip
                pictures.append(engine.run([engine.prepare(request)])[0])
        scores = scorer.score_many(references, pictures)
        results[label] = {
            "mean_score": round(statistics.fmean(s.score for s in scores), 4),
            "methods": sorted({str(s.method) for s in scores}),
            "same_person": sum(1 for s in scores if s.same_person),
            "pictures": len(scores),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="diffusers folder / hub id / .safetensors (default: the demo kit)")
    parser.add_argument("--shape", choices=["tiny", "bench"], default="tiny", help="demo shape when --model is unset")
    parser.add_argument("--images", type=Path, help="training pictures (default: the demo kit's references)")
    parser.add_argument("--trigger", default="ohwx")
    parser.add_argument("--class-word", default="person")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--rank", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--resolution", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--text-encoder", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--identity", action="store_true", help="also score renders with and without the LoRA")
    parser.add_argument("--ip-adapter", type=Path, help="IP-Adapter folder (CLIP fallback for identity scores)")
    parser.add_argument("--render-steps", type=int, default=25, help="denoising steps of the identity renders")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "selfiebot-bench")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    quiet_library_logs()

    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    identity_ip_adapter = args.ip_adapter
    if args.model:
        model = args.model
        training_set = load_training_folder(args.images, trigger=args.trigger, class_word=args.class_word)
    else:
        from generation.demo_kit import ensure_demo_kit

        kit = ensure_demo_kit(args.work_dir / "models", args.shape)
        model = str(kit.pipeline)
        identity_ip_adapter = identity_ip_adapter or kit.ip_adapter
        folder = args.images
        pictures = sorted(folder.iterdir()) if folder else kit.references
        training_set = training_set_from_pictures(
            [(path, None) for path in pictures], trigger=args.trigger, class_word=args.class_word
        )
    loaded = load_pipeline(model, device, dtype, args.work_dir)
    pipe = loaded.pipe
    settings = recommended_settings(
        pipe, args.trigger, class_word=args.class_word, steps=args.steps, rank=args.rank, learning_rate=args.lr,
        resolution=args.resolution, seed=args.seed, train_text_encoder=args.text_encoder or None,
    )  # fmt: skip
    probe = DenoisingProbe(pipe, training_set, resolution=settings.resolution)
    class_probe = DenoisingProbe(
        pipe, training_set, resolution=settings.resolution, prompt=f"a photo of {args.class_word}"
    )
    base_loss, base_class_loss = probe.loss(), class_probe.loss()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    load_before = os.getloadavg()[0]  # on a shared machine, other work inflates every timing
    started = time.perf_counter()
    run = TrainingRun(pipe, training_set, settings, model_label=model)
    setup_s = time.perf_counter() - started
    step_seconds = []
    mixed_precision, gradient_checkpointing = run.mixed_precision, run.gradient_checkpointing
    with run:
        while not run.finished:
            began = time.perf_counter()
            run.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            step_seconds.append(time.perf_counter() - began)
        lora = run.export(args.work_dir / "trained" / "benchmark.safetensors")
        losses = list(run.losses)
    peak_gpu = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None

    pipe.load_lora_weights(str(lora), adapter_name="trained")
    trained_loss, trained_class_loss = probe.loss(), class_probe.loss()
    pipe.delete_adapters("trained")
    timed = step_seconds[2:] or step_seconds  # the first steps include lazy set-up (caches, allocator)
    results = {
        "model": model,
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "pictures": len(run.training_set),
        "settings": {
            "steps": settings.steps,
            "rank": settings.rank,
            "lr": settings.learning_rate,
            "resolution": settings.resolution,
            "batch_size": settings.batch_size,
            "text_encoder": settings.train_text_encoder,
            "mixed_precision": str(mixed_precision),
            "gradient_checkpointing": gradient_checkpointing,
        },  # fmt: skip
        "setup_s": round(setup_s, 3),
        "seconds_per_step_median": round(statistics.median(timed), 4),
        "seconds_per_step_mean": round(statistics.fmean(timed), 4),
        "train_s": round(sum(step_seconds), 2),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpu_threads": torch.get_num_threads(),
        "training_loss_first_10": round(statistics.fmean(losses[:10]), 4),
        "training_loss_last_10": round(statistics.fmean(losses[-10:]), 4),
        "denoising_loss": {
            "base": round(base_loss, 5),
            "with_lora": round(trained_loss, 5),
            "change": f"{(trained_loss - base_loss) / base_loss:+.1%}",
            "class_prompt_base": round(base_class_loss, 5),
            "class_prompt_with_lora": round(trained_class_loss, 5),
            "class_prompt_change": f"{(trained_class_loss - base_class_loss) / base_class_loss:+.1%}",
        },
        "peak_gpu_gib": round(peak_gpu, 2) if peak_gpu is not None else None,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "lora_file_kib": round(lora.stat().st_size / 1024, 1),
    }
    if args.identity:
        from generation.engine import Engine

        engine = Engine(LoadedModel(pipe, model, None), ip_adapter=args.ip_adapter, cache_dir=None)
        render_steps = args.render_steps if args.model else 2
        results["identity"] = identity_comparison(
            engine, lora, run.training_set, ip_adapter=identity_ip_adapter, seeds=2,
            steps=render_steps,
        )  # fmt: skip
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
