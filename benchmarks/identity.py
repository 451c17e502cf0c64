"""Identity benchmark: face-scorer accuracy on real photos, time per score, cost of best of N, calibration sweep time.
Prints numbers (and writes them with --json); asserts nothing.

    python benchmarks/identity.py                                   # CPU: accuracy, timings, demo `bench` shape
    python benchmarks/identity.py --gpu-shapes                      # candidates cost on CUDA, SD 1.5 architecture
    python benchmarks/identity.py --model PATH --ip-adapter DIR --reference IMG [--subject "a woman with red hair"]
                                                                    # real weights: 20 scenes, score distributions

Accuracy pairs come from photos inside installed packages (generation/identity/photos.py): scikit-image's astronaut
and matplotlib's Grace Hopper (the identity-test extra), plus seven more people when insightface's sample pictures
are there (`pip install --no-deps insightface`, for the pictures only). "Same" pairs are a photo against its own
edited copies (mirror, crop, recolour, 12 degree rotation, half size, greyscale); "different" pairs are one person's
photo against every other person's photo and copies.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.identity import IdentityScorer, candidate_seeds, render_best_of  # noqa: E402
from generation.identity.clip import ClipSimilarity  # noqa: E402
from generation.identity.faces import (  # noqa: E402
    SAME_PERSON_DISTANCE,
    FaceEmbedder,
    distance_to_score,
    face_model_available,
    mean_descriptor,
)
from generation.identity.photos import PHOTOS, available_photos, open_photo, same_person_variants  # noqa: E402

SCENES = [
    "at the beach at sunset", "in a cozy cafe with a latte", "on a rainy city street with an umbrella",
    "hiking on a mountain trail", "in a library between bookshelves", "at a rooftop party at night",
    "in the kitchen cooking pasta", "in a snowy forest wearing a scarf", "at the gym after a workout",
    "on a sailboat on a lake", "in pajamas on the sofa", "at a music festival with lights",
    "in an art museum", "on a subway train", "in a sunflower field", "at a desk with a laptop",
    "in a vintage car", "at a night market with lanterns", "in a bathroom mirror selfie", "on a balcony in the morning",
]  # fmt: skip


def median_seconds(action, repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def distribution(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "mean": round(statistics.fmean(ordered), 4),
        "p10": round(float(np.percentile(ordered, 10)), 4),
        "median": round(statistics.median(ordered), 4),
        "min": round(ordered[0], 4),
        "max": round(ordered[-1], 4),
    }


def face_accuracy(embedder: FaceEmbedder) -> dict:
    """Accuracy of dlib's published threshold on same/different pairs of packaged photos."""
    photos = available_photos()
    group = next((p.path() for p in PHOTOS if p.group_index is not None and p.path()), None)
    group_boxes = None
    if group is not None:
        import dlib

        detector = dlib.get_frontal_face_detector()
        group_boxes = [(r.left(), r.top(), r.right(), r.bottom()) for r in detector(np.asarray(Image.open(group)), 1)]
    originals, variants, missed = {}, {}, []
    for photo in photos:
        image = open_photo(photo, group_boxes)
        face = embedder.embed(image)
        if face is None:
            missed.append(photo.name)
            continue
        originals[photo.name] = face.descriptor
        for name, variant in same_person_variants(image, face.box).items():
            found = embedder.embed(variant)
            if found is None:
                missed.append(f"{photo.name}/{name}")
            else:
                variants[(photo.name, name)] = found.descriptor
    same, different = [], []
    for (person, _), descriptor in variants.items():
        same.append(float(np.linalg.norm(descriptor - originals[person])))
    for reference, other in itertools.permutations(originals, 2):
        pictures = [originals[other]] + [d for (person, _), d in variants.items() if person == other]
        different.extend(float(np.linalg.norm(d - originals[reference])) for d in pictures)
    # Two references per person (the photo and its recoloured copy, averaged) against the other copies and people.
    two_same, two_different = [], []
    for person in originals:
        if (person, "recolour") not in variants:
            continue
        template = mean_descriptor([originals[person], variants[(person, "recolour")]])
        for (owner, name), descriptor in variants.items():
            if name == "recolour":
                continue
            distance = float(np.linalg.norm(descriptor - template))
            (two_same if owner == person else two_different).append(distance)
        two_different.extend(float(np.linalg.norm(originals[o] - template)) for o in originals if o != person)
    return {
        "people": len(originals),
        "not_detected": missed,
        "one_reference": pair_figures(same, different),
        "two_references_averaged": pair_figures(two_same, two_different),
    }


def pair_figures(same: list[float], different: list[float]) -> dict:
    true_accepts = sum(d < SAME_PERSON_DISTANCE for d in same)
    true_rejects = sum(d >= SAME_PERSON_DISTANCE for d in different)
    return {
        "same_pairs": len(same),
        "different_pairs": len(different),
        "accuracy": round((true_accepts + true_rejects) / max(1, len(same) + len(different)), 4),
        "same_accepted": round(true_accepts / max(1, len(same)), 4),
        "different_rejected": round(true_rejects / max(1, len(different)), 4),
        "same_distance_max": round(max(same), 4) if same else None,
        "different_distance_min": round(min(different), 4) if different else None,
        "same_score": distribution([distance_to_score(d) for d in same]),
        "different_score": distribution([distance_to_score(d) for d in different]),
    }


def score_timings(embedder: FaceEmbedder, cnn_embedder: FaceEmbedder, clip: ClipSimilarity, repeats: int) -> dict:
    astronaut = open_photo(PHOTOS[0])
    scorer = IdentityScorer(faces=embedder, clip=clip)
    large = astronaut.resize((1024, 1024), Image.Resampling.BICUBIC)
    faceless = Image.fromarray(np.random.default_rng(0).integers(0, 256, (512, 512, 3), dtype=np.uint8))
    scorer.score([astronaut], astronaut)  # the reference is embedded once and kept
    clip_only = IdentityScorer(clip=clip)
    return {
        "face_score_512px_s": round(median_seconds(lambda: scorer.score([astronaut], astronaut), repeats), 4),
        "face_score_1024px_s": round(median_seconds(lambda: scorer.score([astronaut], large), repeats), 4),
        "faceless_512px_hog_then_clip_s": round(
            median_seconds(lambda: scorer.score([astronaut], faceless), repeats), 4
        ),
        "cnn_detector_faceless_512px_s": round(median_seconds(lambda: cnn_embedder.embed(faceless), 2), 4),
        "clip_score_s": round(median_seconds(lambda: clip_only.score([astronaut], faceless), repeats), 4),
        "face_model_load_s": round(median_seconds(lambda: FaceEmbedder(), 1), 4),
    }


def candidates_cost(engine, kit, size: int, steps: int, repeats: int, counts: list[int]) -> dict:
    """Time of N candidates in one batched call, of scoring them, and of the whole best of N (batch, scoring, exact
    re-render of the winner), relative to one picture. Measured in interleaved rounds so drift in machine speed
    (shared CPUs) hits every figure alike. Scoring runs the face detector then CLIP on every candidate (demo pictures
    have no face, the reference has one): the worst case for scoring time."""
    reference = kit.references[0]
    request = dataclasses.replace(
        _demo_request(size, steps), reference_path=reference, ip_scale=0.6, seed=11, prompt="a selfie at the beach"
    )
    scorer = IdentityScorer.create(pipe=engine.pipe)
    references = [_scoring_reference(reference)]
    prepared = engine.prepare(request)
    batches = {
        count: [
            dataclasses.replace(prepared, request=dataclasses.replace(request, seed=s))
            for s in candidate_seeds(request.seed, 0, count)
        ]
        for count in counts
    }
    timings: dict[str, list[float]] = {"single": []}
    engine.run([prepared])  # warm-up
    scorer.score_many(references, engine.run(batches[counts[0]]))
    for _ in range(repeats):
        timings["single"].append(median_seconds(lambda: engine.run([prepared]), 1))
        for count, batch in batches.items():
            started = time.perf_counter()
            pictures = engine.run(batch)
            timings.setdefault(f"batched{count}", []).append(time.perf_counter() - started)
            started = time.perf_counter()
            scorer.score_many(references, pictures)
            timings.setdefault(f"scoring{count}", []).append(time.perf_counter() - started)
            started = time.perf_counter()
            render_best_of(engine, request, references=references, scorer=scorer, count=count)
            timings.setdefault(f"best_of{count}", []).append(time.perf_counter() - started)
    single = statistics.median(timings["single"])
    results = {"size": size, "steps": steps, "repeats": repeats, "single_picture_s": round(single, 4)}
    for count in counts:
        batched, scoring, whole = (
            statistics.median(timings[f"{part}{count}"]) for part in ("batched", "scoring", "best_of")
        )
        results[f"n{count}"] = {
            "batched_s": round(batched, 4),
            "batched_vs_single": round(batched / single, 3),
            "scoring_s": round(scoring, 4),
            "best_of_exact_s": round(whole, 4),
            "best_of_exact_vs_single": round(whole / single, 3),
        }
    return results


def calibration_sweep_time(engine, kit, size: int, steps: int) -> dict:
    """A calibration-like sweep: 3 reference scales x 4 scenes, one batched call per scale, every picture scored."""
    scorer = IdentityScorer.create(pipe=engine.pipe)
    references = [_scoring_reference(kit.references[0])]
    started = time.perf_counter()
    for scale in (0.3, 0.5, 0.7):
        batch = [
            engine.prepare(
                dataclasses.replace(
                    _demo_request(size, steps), prompt=f"a selfie {scene}", reference_path=kit.references[0],
                    ip_scale=scale,
                )
            )
            for scene in SCENES[:4]
        ]  # fmt: skip
        scorer.score_many(references, engine.run(batch))
    return {"scales": 3, "scenes": 4, "pictures": 12, "seconds": round(time.perf_counter() - started, 3)}


def _scoring_reference(fallback: Path) -> Image.Image:
    """A real face photo as the persona's scoring reference when one is installed, so every demo candidate (noise,
    no face) pays for the face detector and then CLIP: the worst case. Else the demo kit's abstract reference."""
    path = PHOTOS[0].path()
    return Image.open(path if path is not None and face_model_available() else fallback).convert("RGB")


def _demo_request(size: int, steps: int):
    from generation.request import GenerationRequest

    return GenerationRequest(prompt="a selfie", seed=1, steps=steps, width=size, height=size, guidance=7.0)


def real_weights(args) -> dict:
    """Renders the persona across 20 scenes per reference scale; candidate 0 is the plain picture (its seed is the
    base seed), so one run gives the distribution without and with best of N."""
    from generation.engine import Engine
    from generation.identity.cli import open_identity_image
    from generation.request import GenerationRequest

    data_dir = Path(os.environ.get("DATA_DIR", "data"))  # as `selfiebot render`: hub downloads and caches go there
    engine = Engine.load(args.model, device=args.device, data_dir=data_dir, ip_adapter=args.ip_adapter, dtype="auto")
    scorer = IdentityScorer.create(pipe=engine.pipe)
    references = [open_identity_image(path) for path in args.reference]
    size = args.size or engine.native_size
    results = {"model": args.model, "candidates": args.candidates, "steps": args.steps, "size": size, "scales": {}}
    for scale in args.ip_scales:
        plain, best, chosen_pictures = [], [], []
        faces_plain = faces_best = same_plain = same_best = 0
        started = time.perf_counter()
        for index, scene in enumerate(SCENES):
            request = GenerationRequest(
                prompt=f"a photo of {args.subject} {scene}, selfie", negative_prompt=args.negative,
                seed=args.seed + index, steps=args.steps, guidance=args.guidance, width=size, height=size,
                reference_path=args.reference[0], ip_scale=scale,
            )  # fmt: skip
            outcome = render_best_of(
                engine, request, references=references, scorer=scorer, count=args.candidates, exact=False
            )
            first, chosen = outcome.candidates[0].score, outcome.chosen.score
            plain.append(first.score)
            best.append(chosen.score)
            faces_plain += first.method == "face"
            faces_best += chosen.method == "face"
            same_plain += bool(first.same_person)
            same_best += bool(chosen.same_person)
            chosen_pictures.append(outcome.image)
            if args.save:
                args.save.mkdir(parents=True, exist_ok=True)
                outcome.image.save(args.save / f"scale{scale}-{index:02d}.png")
        results["scales"][str(scale)] = {
            "plain": distribution(plain),
            "best_of_n": distribution(best),
            "face_found_plain": faces_plain,
            "face_found_best_of_n": faces_best,
            "same_person_plain": same_plain,
            "same_person_best_of_n": same_best,
            "scene_sameness": round(scorer.scene_sameness(chosen_pictures), 4),  # high = every scene looks alike
            "seconds": round(time.perf_counter() - started, 2),
        }
        print(json.dumps({"ip_scale": scale, **results["scales"][str(scale)]}), flush=True)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "selfiebot-bench")
    parser.add_argument("--gpu-shapes", action="store_true", help="candidates cost with SD 1.5 architecture on CUDA")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-accuracy", action="store_true", help="skip the face accuracy pairs (timings only)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: on a shared machine two spinning threads measured 4-30x slower)",
    )
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 3, 4], help="candidate counts to time")
    parser.add_argument("--model", help="real weights: diffusers folder, hub id or .safetensors file")
    parser.add_argument("--ip-adapter", type=Path)
    parser.add_argument("--reference", type=Path, action="append", help="the persona's reference picture(s)")
    parser.add_argument("--subject", default="a young woman", help="who the persona is, for the scene prompts")
    parser.add_argument("--negative", default="blurry, deformed, extra fingers")
    parser.add_argument("--candidates", type=int, default=3)
    parser.add_argument("--ip-scales", type=float, nargs="+", default=[0.4, 0.6, 0.8])
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=7.0)
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--size", type=int)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--save", type=Path, help="real weights: write the chosen pictures here")
    args = parser.parse_args()
    from generation.logs import quiet_library_logs

    quiet_library_logs()
    torch.set_num_threads(args.threads)
    if args.model:
        if not (args.ip_adapter and args.reference):
            print("--model needs --ip-adapter DIR and --reference IMG.", file=sys.stderr)
            return 2
        results = real_weights(args)
    else:
        results = cpu_and_demo(args)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def cpu_and_demo(args) -> dict:
    from generation.demo_kit import ensure_demo_kit
    from generation.engine import Engine
    from generation.loading import load_pipeline

    # Other work on a shared machine shows in every timing: the load average says how much there was.
    results: dict = {"torch": torch.__version__, "threads": torch.get_num_threads(), "load_before": os.getloadavg()[0]}
    if face_model_available():
        import dlib

        results["dlib"] = dlib.__version__
        embedder = FaceEmbedder()
        if not args.no_accuracy:
            results["face_accuracy_hog"] = face_accuracy(embedder)
            results["face_accuracy_hog_then_cnn"] = face_accuracy(FaceEmbedder(use_cnn_detector=True))
            print(json.dumps({"face_accuracy_hog": results["face_accuracy_hog"]["one_reference"]}), flush=True)
    else:
        print("face model not installed (pip install '.[identity]'): accuracy and face timings skipped", flush=True)
    if args.gpu_shapes:
        if not torch.cuda.is_available():
            print("--gpu-shapes needs a CUDA GPU.", file=sys.stderr)
            raise SystemExit(2)
        kit, device, dtype, size, steps = ensure_demo_kit(args.work_dir, "sd15"), "cuda", torch.float16, 512, 25
        results["gpu"] = torch.cuda.get_device_name(0)
    else:
        kit, device, dtype, size, steps = ensure_demo_kit(args.work_dir, "bench"), "cpu", torch.float32, 128, 10
    loaded = load_pipeline(str(kit.pipeline), torch.device(device), dtype, Path(tempfile.mkdtemp()))
    engine = Engine(loaded, ip_adapter=kit.ip_adapter, cache_dir=None)
    clip = ClipSimilarity.from_pipeline(engine.pipe)
    if face_model_available():
        results["score_timings"] = score_timings(embedder, FaceEmbedder(use_cnn_detector=True), clip, args.repeats)
        print(json.dumps({"score_timings": results["score_timings"]}), flush=True)
    results["candidates_cost"] = candidates_cost(engine, kit, size, steps, args.repeats, args.counts)
    print(json.dumps({"candidates_cost": results["candidates_cost"]}), flush=True)
    results["calibration_sweep"] = calibration_sweep_time(engine, kit, size, steps)
    results["load_after"] = os.getloadavg()[0]
    return results


if __name__ == "__main__":
    raise SystemExit(main())
