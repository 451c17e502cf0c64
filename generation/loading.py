"""Loading a text-to-image pipeline from a diffusers folder, a hub id, a single-file checkpoint or `demo`, and
finding an IP-Adapter given as a folder, a weights file or a hub id."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import torch

from generation.assets import check_safetensors_header
from generation.errors import InvalidAssetError, ModelLoadError

log = logging.getLogger(__name__)

IP_ADAPTER_WEIGHT_NAMES = ("ip-adapter.safetensors", "ip-adapter_sd15.safetensors", "ip-adapter_sdxl.safetensors")
# org/name, then optionally a folder and/or a weights file inside the repository.
_HUB_PATH = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(/[\w.-]+)*$")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")


@dataclass
class LoadedModel:
    pipe: object
    label: str  # what "Details" show as the model
    default_ip_adapter: Path | None  # the demo kit brings its own


def load_pipeline(model: str, device: torch.device, dtype: torch.dtype, cache_dir: Path) -> LoadedModel:
    """Load `model` onto `device`. Progress bars show while components load."""
    model = (model or "demo").strip()
    default_ip = None
    if model == "demo":
        from generation.demo_kit import ensure_demo_kit

        kit = ensure_demo_kit(Path(cache_dir) / "models")
        pipe = _from_folder(kit.pipeline, dtype)
        default_ip = kit.ip_adapter
    else:
        path = Path(model).expanduser()
        if path.is_dir():
            pipe = _from_folder(path, dtype)
        elif path.is_file():
            pipe = _from_single_file(path, dtype)
        elif model.startswith((".", "/", "~")):
            raise ModelLoadError(
                f"MODEL={model} does not exist; point it at a diffusers folder or a .safetensors file."
            )
        else:
            pipe = _from_hub_id(model, dtype)
    pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return LoadedModel(pipe=pipe, label=model, default_ip_adapter=default_ip)


def _pipeline_class(class_name: str):
    from diffusers import AutoPipelineForText2Image, StableDiffusionPipeline, StableDiffusionXLPipeline

    if class_name.startswith("StableDiffusionXL"):
        return StableDiffusionXLPipeline
    if class_name.startswith("StableDiffusion"):
        return StableDiffusionPipeline
    return AutoPipelineForText2Image


def _sd_kwargs(cls) -> dict:
    from diffusers import StableDiffusionPipeline

    # The bot applies its own content policy before generation; the SD safety checker only blacks out pictures.
    return {"safety_checker": None, "requires_safety_checker": False} if cls is StableDiffusionPipeline else {}


def _from_folder(folder: Path, dtype: torch.dtype):
    index = folder / "model_index.json"
    if not index.exists():
        raise ModelLoadError(f"{folder} is not a diffusers pipeline folder (it has no model_index.json).")
    cls = _pipeline_class(json.loads(index.read_text()).get("_class_name", ""))
    try:
        return cls.from_pretrained(str(folder), dtype=dtype, **_sd_kwargs(cls))
    except Exception as error:
        raise ModelLoadError(f"The pipeline in {folder} could not be loaded: {error}") from error


def _from_single_file(path: Path, dtype: torch.dtype):
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    if path.suffix != ".safetensors":
        raise ModelLoadError("Only .safetensors checkpoints are loaded (pickled .ckpt/.bin files can run code).")
    try:
        keys = check_safetensors_header(path)
    except InvalidAssetError as error:
        raise ModelLoadError(f"{path.name} is not a valid .safetensors checkpoint.") from error
    is_xl = any(key.startswith("conditioner.embedders.1") for key in keys)
    cls = StableDiffusionXLPipeline if is_xl else StableDiffusionPipeline
    try:
        return cls.from_single_file(str(path), dtype=dtype, **_sd_kwargs(cls))
    except Exception as error:
        raise ModelLoadError(
            f"{path.name} could not be loaded as a single-file checkpoint (offline, its base config must be in the "
            f"Hugging Face cache): {error}"
        ) from error


def _from_hub_id(model_id: str, dtype: torch.dtype):
    from diffusers import DiffusionPipeline

    try:
        config = DiffusionPipeline.load_config(model_id)
        cls = _pipeline_class(config.get("_class_name", ""))
        return cls.from_pretrained(model_id, dtype=dtype, **_sd_kwargs(cls))
    except Exception as error:
        raise ModelLoadError(
            f"MODEL={model_id} could not be loaded; download it first or point MODEL at a local folder ({error})."
        ) from error


def find_ip_adapter_weights(folder: Path) -> str:
    """The weights file inside an IP-Adapter folder (public repos use a few names)."""
    for name in IP_ADAPTER_WEIGHT_NAMES:
        if (folder / name).exists():
            return name
    candidates = sorted(p.name for p in folder.glob("*.safetensors"))
    if candidates:
        return candidates[0]
    raise ModelLoadError(f"{folder} holds no IP-Adapter .safetensors weights (pickled .bin files are not loaded).")


def ip_adapter_identity(folder: Path, weight_name: str) -> str:
    """A key that changes when the IP-Adapter or its image encoder changes (for the embedding disk cache)."""
    digest = hashlib.sha256()
    for path in [folder / weight_name, *sorted((folder / "image_encoder").glob("*"))]:
        if path.is_file():
            stat = path.stat()
            digest.update(f"{path.name}:{stat.st_size}".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(1 << 16))  # the header and first weights: cheap and distinctive
    return digest.hexdigest()[:16]


def resolve_ip_adapter(location: str | Path) -> Path:
    """The local IP-Adapter folder or weights file that `location` names.

    A path that exists (or looks like a path) is returned as it is. Otherwise `location` is a hub id, read like
    MODEL: from the Hugging Face cache (when HF_HUB_OFFLINE is set, or the hub cannot be reached) or fetched, and
    then only the weights and `image_encoder/` are, never the other variants a repository holds. Forms:
    `org/name`, `org/name/subfolder`, `org/name/subfolder/weights.safetensors`.
    """
    text = str(location).strip()
    path = Path(text).expanduser()
    if path.exists() or text.startswith((".", "/", "~")) or not _HUB_PATH.match(text) or ".." in text.split("/"):
        return path  # the engine explains a path that does not exist
    owner, name, *inner = text.split("/")
    repo_id, inner_path = f"{owner}/{name}", "/".join(inner)
    if inner_path.endswith(_PICKLE_SUFFIXES):
        raise ModelLoadError(
            f"IP_ADAPTER={text} names pickled weights; use the .safetensors file (pickles can run code).", source=text
        )
    is_file = inner_path.endswith(".safetensors")
    folder = str(PurePosixPath(inner_path).parent) if is_file else inner_path
    prefix = "" if folder in ("", ".") else f"{folder}/"
    weights = inner_path if is_file else f"{prefix}*.safetensors"
    patterns = [weights, f"{prefix}image_encoder/*.json", f"{prefix}image_encoder/*.safetensors"]
    try:
        from huggingface_hub import snapshot_download

        snapshot = Path(snapshot_download(repo_id, allow_patterns=patterns))
    except Exception as error:
        raise ModelLoadError(
            f"IP_ADAPTER={text} could not be loaded; download it first or point IP_ADAPTER at a local folder "
            f"({error}).",
            source=text,
        ) from error
    target = snapshot / inner_path if inner_path else snapshot
    if not target.exists():
        raise ModelLoadError(
            f"IP_ADAPTER={text}: {repo_id} has no {inner_path}; download it first or point IP_ADAPTER at a local "
            "folder.",
            source=text,
        )
    return target
