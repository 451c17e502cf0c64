"""The one-call GPU check: fp16 correctness on the SD 1.5 and SDXL architectures, then the speed table. JSON out.

Needs no internet and no downloaded weights: both architectures are built with random weights (SD 1.5 from the demo
kit's `sd15` shape; SDXL's UNet from its published configuration, its text encoders and VAE from the demo kit).
Pictures are noise; what is checked is that the numbers behave (no NaN in fp16, a batch equals its solo pictures,
per-sample LoRAs equal diffusers' own `set_adapters`) and how fast the service is against raw diffusers.

    python benchmarks/gpu_check.py [--device cuda] [--dollars-per-hour 3.5]   # < 8 minutes on one GPU
    python benchmarks/gpu_check.py --device cpu --smoke                        # tiny shapes, seconds: same code paths

Tolerances (stated, checked): on CUDA in fp16 a batched picture may differ from its solo picture by at most
`BATCH_TOLERANCE` of 255 levels (cuBLAS/cuDNN pick different kernels per batch size); on the CPU in fp32 by 1.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generation.compile import GraphCounter, compile_engine  # noqa: E402
from generation.demo_kit import SHAPES, DemoShape, build_demo_lora, build_demo_pipeline  # noqa: E402
from generation.engine import Engine  # noqa: E402
from generation.loading import LoadedModel  # noqa: E402
from generation.request import GenerationRequest  # noqa: E402
from generation.service import GenerationService  # noqa: E402

BATCH_TOLERANCE = {"cuda": 8, "cpu": 1}
LORA_TARGETS = [["to_q", "to_k", "to_v", "to_out.0"], ["to_k", "to_v"], ["to_q", "to_v", "ff.net.2"], ["to_out.0"]]


def sdxl_unet(full: bool, text_dim: int, time_dim: int):
    """SDXL's UNet layout (diffusers' stabilityai/stable-diffusion-xl-base-1.0 unet/config.json); narrow in smoke."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=128 if full else 8,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        block_out_channels=(320, 640, 1280) if full else (32, 64, 64),
        layers_per_block=2 if full else 1,
        transformer_layers_per_block=(1, 2, 10) if full else (1, 1, 2),
        attention_head_dim=(5, 10, 20) if full else (2, 4, 4),
        cross_attention_dim=2 * text_dim,  # both text encoders' hidden states, concatenated
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=6 * time_dim + text_dim,
        norm_num_groups=32,
    )


def build_family(family: str, smoke: bool):
    """(pipeline on the CPU in fp32, picture size, steps)."""
    if family == "sd15":
        shape = SHAPES["tiny"] if smoke else SHAPES["sd15"]
        return build_demo_pipeline(shape), shape.image_size, 2 if smoke else 25
    if smoke:
        shape = SHAPES["tiny-xl"]
    else:
        shape = DemoShape(
            "sdxl-check", (32, 64), 1, 1024, (128, 256, 512, 512), 32, 1024,
            head_dim=8, text_layers=12, text_heads=16, family="sdxl",
        )  # fmt: skip
    pipe = build_demo_pipeline(shape)
    pipe.unet = sdxl_unet(not smoke, shape.text_dim, 256 if not smoke else 8)
    return pipe, shape.image_size, 2 if smoke else 20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, call) -> tuple[float, object]:
    sync(device)
    started = time.perf_counter()
    value = call()
    sync(device)
    return time.perf_counter() - started, value


def pixel_difference(a, b) -> int:
    return int(np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16)).max())


def is_sound(picture) -> bool:
    """fp16 NaNs/overflows come out as a flat (black) picture."""
    array = np.asarray(picture, dtype=np.float32)
    return bool(np.isfinite(array).all() and array.std() > 0.5)


def raw_call(pipe, request: GenerationRequest):
    return raw_batch(pipe, [request])[0]


def raw_batch(pipe, requests: list[GenerationRequest]):
    """One plain diffusers call for requests that share size, steps and guidance."""
    first = requests[0]
    return pipe(
        prompt=[r.prompt for r in requests],
        negative_prompt=[r.negative_prompt for r in requests],
        num_inference_steps=first.steps,
        guidance_scale=first.guidance,
        width=first.width,
        height=first.height,
        generator=[torch.Generator("cpu").manual_seed(r.seed) for r in requests],
    ).images


async def serve(engine: Engine, requests: list[GenerationRequest], *, max_batch: int, together: bool):
    service = GenerationService(engine, max_batch=max_batch, batch_window_s=0.05)
    try:
        if together:
            return await asyncio.gather(*(service.generate(r) for r in requests))
        return [await service.generate(r) for r in requests]
    finally:
        await service.close()


def check_family(family: str, args, device: torch.device, dtype: torch.dtype, work: Path, saved=None) -> dict:
    """Correctness and speed for one architecture. `saved(report)` keeps the report so far after each section."""
    smoke = args.smoke
    pipe, size, steps = build_family(family, smoke)
    loras = []
    for index, targets in enumerate(LORA_TARGETS):
        path = work / f"{family}-persona-{index}.safetensors"
        save_file(build_demo_lora(pipe, 100 + index, 4 if smoke else 16, targets), str(path))
        loras.append(path)
    # Hotswap can only swap in layers the first LoRA adapted: it starts from one adapting every layer used here.
    union = work / f"{family}-hotswap-first.safetensors"
    save_file(build_demo_lora(pipe, 99, 4 if smoke else 16, sorted({t for ts in LORA_TARGETS for t in ts})), str(union))
    pipe.to(device, dtype)
    pipe.set_progress_bar_config(disable=True)
    reference = copy.deepcopy(pipe)  # diffusers' own way, for the LoRA comparison
    hotswap_pipe = copy.deepcopy(pipe)  # diffusers' LoRA hotswap under compile, to compare with our slots
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    base = GenerationRequest(prompt="a selfie on a beach", seed=1, steps=steps, width=size, height=size, guidance=6.0)
    repeats = 1 if smoke else 3
    report: dict = {"family": family, "size": size, "steps": steps, "dtype": str(dtype).removeprefix("torch.")}

    # Raw diffusers, eager, batch 1 (first call warms kernels).
    raw_call(pipe, base)
    raw = [timed(device, lambda s=s: raw_call(pipe, replace(base, seed=s)))[0] for s in range(repeats)]
    engine = Engine(LoadedModel(pipe=pipe, label=f"random-{family}", default_ip_adapter=None))
    asyncio.run(serve(engine, [base], max_batch=1, together=False))
    service_s = [
        timed(device, lambda s=s: asyncio.run(serve(engine, [replace(base, seed=s)], max_batch=1, together=False)))[0]
        for s in range(repeats)
    ]

    # Correctness: sound pictures, batch equals solo, per-sample LoRAs equal diffusers' set_adapters.
    mixed = [
        replace(base, seed=10 + i, lora_path=loras[i % len(loras)] if i % 5 else None, lora_scale=0.8) for i in range(8)
    ]
    tolerance = BATCH_TOLERANCE["cuda" if device.type == "cuda" else "cpu"]
    batched = engine.run([engine.prepare(r) for r in mixed[:4]])
    solo = [engine.run([engine.prepare(r)])[0] for r in mixed[:4]]
    for index, path in enumerate(loras):
        reference.load_lora_weights(str(path), adapter_name=f"p{index}")
    versus_diffusers = []
    for request in mixed[:4]:
        if request.lora_path is None:
            reference.disable_lora()
        else:
            reference.enable_lora()
            reference.set_adapters([f"p{loras.index(request.lora_path)}"], [request.lora_scale])
        versus_diffusers.append(raw_call(reference, request))
    del reference
    reference_pictures = dict(zip((r.seed for r in mixed[:4]), versus_diffusers, strict=True))
    batch_diff = max(pixel_difference(a, b) for a, b in zip(batched, solo, strict=True))
    lora_diff = max(pixel_difference(a, b) for a, b in zip(batched, versus_diffusers, strict=True))
    report["correctness"] = {
        "no_nan": all(is_sound(p) for p in batched + solo),
        "batch_vs_solo_max_diff": batch_diff,
        "per_sample_lora_vs_diffusers_max_diff": lora_diff,
        "tolerance": tolerance,
        "ok": all(is_sound(p) for p in batched + solo) and batch_diff <= tolerance and lora_diff <= tolerance,
    }

    # 8 mixed personas: one batched call against eight in a row.
    batch_s, _ = timed(device, lambda: asyncio.run(serve(engine, mixed, max_batch=8, together=True)))
    row_s, _ = timed(device, lambda: asyncio.run(serve(engine, mixed, max_batch=1, together=False)))
    speed = {
        "raw_diffusers_eager_s_per_picture": round(min(raw), 4),
        "service_s_per_picture": round(min(service_s), 4),
        "service_overhead_pct": round(100 * (min(service_s) / min(raw) - 1), 1),
        "mixed8_batched_pictures_per_s": round(8 / batch_s, 3),
        "mixed8_in_a_row_pictures_per_s": round(8 / row_s, 3),
        "mixed8_speedup": round(row_s / batch_s, 2),
    }

    report["speed"] = speed
    if saved is not None:
        saved(report)  # the compile sections take minutes: what is measured so far survives a timeout
    # Compiled (inductor on a GPU; dynamo's eager backend in smoke runs, where inductor takes minutes on a CPU).
    if family == "sd15" or args.compile_sdxl:
        backend = "eager" if smoke else "inductor"
        speed.update(compiled_figures(engine, base, mixed, loras, device, backend, repeats, raw))
        if saved is not None:
            saved(report)
        speed["lora_hotswap"] = hotswap_figures(
            hotswap_pipe, base, mixed, loras, union, device, backend, reference_pictures
        )
        speed["vae_decoder"] = vae_decoder_figures(engine.pipe, size, device, backend, repeats)
    del hotswap_pipe
    if device.type == "cuda":
        speed["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    per_picture = speed.get("compiled_s_per_picture", speed["service_s_per_picture"])
    speed["dollars_per_1000_pictures"] = round(1000 * per_picture * args.dollars_per_hour / 3600, 4)
    speed["dollars_per_1000_pictures_batched8"] = round(1000 * args.dollars_per_hour / 3600 / (8 / batch_s), 4)
    return report


def compiled_figures(engine, base, mixed, loras, device, backend: str, repeats: int, raw: list[float]) -> dict:
    """Our way: the UNet compiled with persona LoRAs in slots. Figures at batch 1, switches, 8 mixed personas."""
    report = compile_engine(engine, base, backend=backend)

    def draw(requests):
        return engine.run(engine.prepare_batch(requests))

    compiled = [timed(device, lambda s=s: draw([replace(base, seed=s)]))[0] for s in range(repeats)]
    steady = min(compiled)
    # Each persona's first picture (its LoRA is read into a slot), then switching between resident personas.
    first = [timed(device, lambda r=r: draw([r]))[0] for r in mixed[1:5]]
    again = [timed(device, lambda r=r: draw([r]))[0] for r in mixed[1:5]]
    batch_s, _ = timed(device, lambda: draw(mixed))
    return {
        "compile_backend": backend,
        "compile_warm_up_s": round(report.warm_up_s, 2),
        "compiled_s_per_picture": round(steady, 4),
        "compiled_speedup_vs_eager": round(min(raw) / steady, 2),
        "switch_cost_first_s": round(max(first) - steady, 4),
        "switch_cost_steady_s": round(max(again) - steady, 4),
        "compiled_mixed8_batched_pictures_per_s": round(8 / batch_s, 3),
        "compile_counters": report.as_dict(),
    }


def hotswap_figures(pipe, base, mixed, loras, first, device, backend: str, expected: dict) -> dict:
    """diffusers' way: `enable_lora_hotswap`, one LoRA in the compiled UNet at a time, swapped in place.

    It holds one persona at a time, so 8 mixed personas go as one batch per persona, and every LoRA must adapt a
    subset of the layers of the first one loaded (`first`, which adapts all of them). Compared with the slots above.
    """
    ranks = [max(v.shape[0] for k, v in load_file(str(path)).items() if "lora_A" in k) for path in [first, *loras]]
    pipe.enable_lora_hotswap(target_rank=max(ranks))
    pipe.load_lora_weights(str(first), adapter_name="persona")
    counter = GraphCounter(backend)
    pipe.unet.compile(backend=counter)
    current: list = [first]

    def draw(requests):
        path, scale = requests[0].lora_path, requests[0].lora_scale
        if path is not None and path != current[0]:
            pipe.load_lora_weights(str(path), adapter_name="persona", hotswap=True)
            current[0] = path
        pipe.set_adapters(["persona"], [scale if path is not None else 0.0])
        return raw_batch(pipe, requests)

    started = time.perf_counter()
    draw([replace(base, lora_path=first, lora_scale=0.8)])
    draw([replace(base, lora_path=first, lora_scale=0.8), replace(base, lora_path=first, lora_scale=0.8, seed=2)])
    draw([base, replace(base, seed=2)])  # no persona: the LoRA at strength 0
    warm_up_s, graphs_at_warm_up = time.perf_counter() - started, counter.graphs
    pictures = {r.seed: draw([r])[0] for r in mixed[:4]}
    switches = [timed(device, lambda r=r: draw([r]))[0] for r in mixed[1:5]]
    groups: dict = {}
    for request in mixed:
        groups.setdefault(request.lora_path, []).append(request)
    batch_s, _ = timed(device, lambda: [draw(group) for group in groups.values()])
    return {
        "warm_up_s": round(warm_up_s, 2),
        "switch_s_per_picture": round(max(switches), 4),
        "mixed8_pictures_per_s": round(8 / batch_s, 3),
        "mixed8_calls": len(groups),
        "graphs_at_warm_up": graphs_at_warm_up,
        "graphs_since_warm_up": counter.graphs - graphs_at_warm_up,
        "vs_diffusers_max_diff": max(pixel_difference(pictures[seed], picture) for seed, picture in expected.items()),
    }


def vae_decoder_figures(pipe, size: int, device, backend: str, repeats: int) -> dict:
    """Whether compiling the VAE decoder pays: one decode, eager against compiled. Not used by the bot (yet)."""
    latents = torch.randn(1, 4, size // 8, size // 8, generator=torch.Generator("cpu").manual_seed(0))
    latents = latents.to(device, pipe.vae.dtype)

    def decode():
        with torch.inference_mode():
            return pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample

    decode()
    eager = min(timed(device, decode)[0] for _ in range(repeats))
    pipe.vae.decoder.compile(backend=GraphCounter(backend))
    warm_up_s, _ = timed(device, decode)
    compiled = min(timed(device, decode)[0] for _ in range(repeats))
    return {
        "eager_s": round(eager, 4),
        "compiled_s": round(compiled, 4),
        "speedup": round(eager / compiled, 2),
        "warm_up_s": round(warm_up_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="tiny shapes, 2 steps: every code path in seconds")
    parser.add_argument("--dollars-per-hour", type=float, default=3.5, help="machine price for the cost column")
    parser.add_argument("--compile-sdxl", action="store_true", help="also compile SDXL (adds minutes of warm-up)")
    parser.add_argument("--families", default="sd15,sdxl")
    parser.add_argument("--json", type=Path, help="also write the report here, after every section (kept on timeout)")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    started = time.perf_counter()
    result: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "smoke": args.smoke,
        "torch": torch.__version__,
        "dollars_per_hour": args.dollars_per_hour,
        "families": [],
    }
    if args.smoke:
        result["note"] = "smoke run: tiny shapes, 2 steps, dynamo's eager backend; the timings are not measurements"

    def save(families: list[dict], finished: bool) -> None:
        if args.json is not None:
            partial = {**result, "families": families, "finished": finished}
            partial["seconds"] = round(time.perf_counter() - started, 1)
            args.json.write_text(json.dumps(partial, indent=2))

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as folder:
        for family in args.families.split(","):
            done = list(result["families"])
            report = check_family(
                family.strip(), args, device, dtype, Path(folder), saved=lambda r, d=done: save([*d, r], False)
            )
            result["families"].append(report)
            torch._dynamo.reset()  # each family compiles from scratch
    result["ok"] = all(f["correctness"]["ok"] for f in result["families"])
    result["seconds"] = round(time.perf_counter() - started, 1)
    save(result["families"], True)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
