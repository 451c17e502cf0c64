"""Training checkpoints on disk, so a restart resumes where training stopped and ends with the same LoRA.

A checkpoint is a folder with `state.json` (step, the settings and data it was made with, optimizer
hyper-parameters, loss-scaler state) and one `tensors-<step>.safetensors` (LoRA weights and AdamW moments).
Nothing is pickled. The tensors file is written first and `state.json` replaced atomically after it, so a crash
mid-write leaves the previous checkpoint intact. Randomness needs no saved state: every step draws from a generator
seeded by (seed, step).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from generation.training.errors import CheckpointError

STATE_FILE = "state.json"
FORMAT = 1


@dataclass
class CheckpointState:
    step: int
    identity: dict  # what must match to resume: settings, training-set digest, model
    lora: dict[str, torch.Tensor]
    optimizer: dict  # torch.optim state_dict
    scaler: dict | None  # torch.amp.GradScaler state_dict, when training in fp16
    elapsed_s: float  # training time so far, for time-left estimates
    losses: list[float]  # the loss of every step so far


def save_checkpoint(directory: Path, state: CheckpointState) -> Path:
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"lora.{key}": value.detach().cpu().contiguous() for key, value in state.lora.items()}
    optimizer_tensors, optimizer_json = _flatten_optimizer(state.optimizer)
    tensors.update(optimizer_tensors)
    tensors_name = f"tensors-{state.step:06d}.safetensors"
    _atomic_write(directory / tensors_name, lambda path: save_file(tensors, str(path)))
    document = {
        "format": FORMAT,
        "step": state.step,
        "identity": state.identity,
        "tensors": tensors_name,
        "optimizer": optimizer_json,
        "scaler": state.scaler,
        "elapsed_s": state.elapsed_s,
        "losses": state.losses,
    }
    _atomic_write(directory / STATE_FILE, lambda path: path.write_text(json.dumps(document, indent=1)))
    for old in directory.glob("tensors-*.safetensors"):
        if old.name != tensors_name:
            old.unlink(missing_ok=True)
    return directory


def load_checkpoint(directory: Path) -> CheckpointState | None:
    """The checkpoint in `directory`, or None when there is none yet."""
    from safetensors.torch import load_file

    state_path = Path(directory) / STATE_FILE
    if not state_path.exists():
        return None
    try:
        document = json.loads(state_path.read_text())
        if document.get("format") != FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {FORMAT}")
        tensors = load_file(str(Path(directory) / document["tensors"]), device="cpu")
        lora = {key.removeprefix("lora."): value for key, value in tensors.items() if key.startswith("lora.")}
        optimizer = _unflatten_optimizer(tensors, document["optimizer"])
        return CheckpointState(
            step=int(document["step"]),
            identity=document["identity"],
            lora=lora,
            optimizer=optimizer,
            scaler=document.get("scaler"),
            elapsed_s=float(document.get("elapsed_s", 0.0)),
            losses=[float(x) for x in document.get("losses", [])],
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise CheckpointError(
            f"the training checkpoint in {directory} is damaged ({error}); delete it to start over", path=state_path
        ) from error


def _flatten_optimizer(state_dict: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for index, entries in state_dict["state"].items():
        for name, value in entries.items():
            if torch.is_tensor(value):
                tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    groups = [{key: list(v) if isinstance(v, tuple) else v for key, v in g.items()} for g in state_dict["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], document: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optimizer."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for index, entries in document.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(entries)
    groups = [{key: tuple(v) if key == "betas" else v for key, v in g.items()} for g in document["param_groups"]]
    return {"state": state, "param_groups": groups}


def _atomic_write(target: Path, write) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
    os.close(handle)
    try:
        write(Path(temporary))
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
