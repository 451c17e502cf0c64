"""`selfiebot identity score`: how much each picture looks like the reference pictures, one JSON line per picture.

Needs no diffusion model: the face method runs on dlib alone; `--ip-adapter` adds the CLIP fallback for pictures
without a detectable face.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from generation.identity.errors import IdentityError, UnreadableIdentityImage

USAGE = "usage: selfiebot identity score --reference IMG [--reference IMG ...] [--ip-adapter DIR] IMAGE... [--json]"


def open_identity_image(path: Path) -> Image.Image:
    """An RGB image upright as taken (phone photos store their rotation in EXIF), or UnreadableIdentityImage."""
    try:
        with Image.open(path) as image:
            return ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as error:
        raise UnreadableIdentityImage(f"{path} could not be read as an image: {error}", path=str(path)) from error


def _score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="selfiebot identity score", description="Score pictures for likeness to reference pictures."
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE", help="pictures to score")
    parser.add_argument(
        "--reference", action="append", required=True, type=Path, help="a reference picture (repeat for several)"
    )
    parser.add_argument("--ip-adapter", type=Path, help="IP-Adapter folder: its image_encoder/ is the CLIP fallback")
    parser.add_argument("--device", default=os.environ.get("DEVICE", "auto"), help="device for the CLIP fallback")
    parser.add_argument("--json", action="store_true", help="one JSON line per picture (the only output format)")
    return parser


def identity_main(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help"}:
        print(USAGE)
        return 0
    if argv[0] != "score":
        print(f"selfiebot identity: unknown subcommand {argv[0]!r}; {USAGE}", file=sys.stderr)
        return 2
    return score_main(argv[1:])


def score_main(argv: list[str]) -> int:
    args = _score_parser().parse_args(argv)
    from generation.devices import resolve_device, resolve_dtype
    from generation.errors import GenerationError
    from generation.identity.scorer import IdentityScorer
    from generation.logs import quiet_library_logs

    quiet_library_logs()
    try:
        references = [open_identity_image(path) for path in args.reference]
        device = resolve_device(args.device)
        scorer = IdentityScorer.create(ip_adapter=args.ip_adapter, device=device, dtype=resolve_dtype("auto", device))
    except GenerationError as error:
        print(f"selfiebot identity score: {error}", file=sys.stderr)
        return 1
    failed = False
    for path in args.images:
        try:
            score = scorer.score(references, open_identity_image(path))
        except IdentityError as error:
            print(f"selfiebot identity score: {error}", file=sys.stderr)
            failed = True
            continue
        print(json.dumps({"image": str(path), **score.as_dict()}), flush=True)
    return 1 if failed else 0
