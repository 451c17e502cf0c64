"""Per-persona LoRA adapters: loaded once as named peft adapters, kept in an LRU cache, routed per sample."""

from __future__ import annotations

import gc
import logging
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from generation.assets import ContentHashes, load_safetensors
from generation.errors import AssetProblem, InvalidAssetError

log = logging.getLogger(__name__)

BASE = "__base__"  # peft's name for "no adapter" in a mixed batch


def _lora_layers(pipe) -> list[torch.nn.Module]:
    from peft.tuners.lora import LoraLayer

    layers = []
    for component in _adapter_components(pipe):
        layers.extend(module for module in component.modules() if isinstance(module, LoraLayer))
    return layers


def _adapter_components(pipe) -> list[torch.nn.Module]:
    names = ("unet", "text_encoder", "text_encoder_2")
    return [component for name in names if (component := getattr(pipe, name, None)) is not None]


class AdapterCache:
    """LoRA files loaded as named adapters, least recently used evicted beyond `capacity`.

    Switching between cached personas costs nothing: every adapter stays resident and each sample picks its own
    through `route`. Evicted adapters are deleted from the model, so their memory really returns.
    """

    def __init__(self, pipe, capacity: int = 8, hashes: ContentHashes | None = None) -> None:
        if capacity < 1:
            raise ValueError("The LoRA cache needs room for at least one adapter.")
        self._pipe = pipe
        self.capacity = capacity
        self._hashes = hashes or ContentHashes()
        self._loaded: OrderedDict[str, str] = OrderedDict()  # adapter name -> content hash
        self._layers: list[torch.nn.Module] | None = None
        self.loads = 0
        self.hits = 0
        self.evictions = 0

    @property
    def loaded(self) -> list[str]:
        """Adapter names, least recently used first."""
        return list(self._loaded)

    def name_for(self, path: Path) -> tuple[str, str]:
        digest = self._hashes.of(path)
        return f"lora_{digest[:16]}", digest

    def ensure(self, path: Path, pinned: set[str] = frozenset()) -> tuple[str, str]:
        """The adapter name for `path`, loading it if needed. `pinned` adapters are never evicted for room."""
        name, digest = self.name_for(path)
        if name in self._loaded:
            self._loaded.move_to_end(name)
            self.hits += 1
            return name, digest
        self._make_room(pinned | {name})
        self._load(path, name)
        self._loaded[name] = digest
        self.loads += 1
        return name, digest

    def _load(self, path: Path, name: str) -> None:
        state_dict = load_safetensors(path)
        before = sum(1 for layer in self._all_layers() if name in layer.lora_A)
        try:
            self._pipe.load_lora_weights(state_dict, adapter_name=name)
        except Exception as error:
            self._forget_partial(name)
            raise InvalidAssetError(
                f"{path.name} does not fit the model: LoRA layer names or shapes differ ({error})",
                problem=AssetProblem.DOES_NOT_FIT,
            ) from error
        finally:
            self._layers = None
        if sum(1 for layer in self._all_layers() if name in layer.lora_A) <= before:
            self._forget_partial(name)
            raise InvalidAssetError(
                f"{path.name} does not fit the model: no LoRA layer matched", problem=AssetProblem.DOES_NOT_FIT
            )
        log.info("loaded LoRA %s from %s", name, path)

    def _forget_partial(self, name: str) -> None:
        try:
            self._pipe.delete_adapters(name)
        except Exception:  # nothing was injected, so there is nothing to remove
            pass
        self._layers = None

    def _make_room(self, keep: set[str]) -> None:
        while len(self._loaded) >= self.capacity:
            victim = next((name for name in self._loaded if name not in keep), None)
            if victim is None:
                return  # every resident adapter is in use by this batch; exceed the bound briefly
            self.evict(victim)

    def evict(self, name: str) -> None:
        self._pipe.delete_adapters(name)
        self._loaded.pop(name, None)
        self._layers = None
        self.evictions += 1
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        log.info("evicted LoRA %s", name)

    def _all_layers(self) -> list[torch.nn.Module]:
        if self._layers is None:
            self._layers = _lora_layers(self._pipe)
        return self._layers

    def set_scales(self, scales: dict[str, float]) -> None:
        """Set each adapter's strength, the same way diffusers' `set_adapters` weights do."""
        for layer in self._all_layers():
            for name, scale in scales.items():
                if name in layer.lora_A:
                    layer.set_scale(name, scale)

    def adapter_parameter_count(self) -> int:
        """Number of LoRA parameters resident in the model (for memory checks)."""
        total = 0
        for layer in self._all_layers():
            for module_dict in (layer.lora_A, layer.lora_B):
                total += sum(p.numel() for module in module_dict.values() for p in module.parameters())
        return total

    @contextmanager
    def route(self, adapter_names: list[str]) -> Iterator[None]:
        """Run the next forward passes with one adapter per sample (`BASE` for none).

        When the whole batch uses one adapter (or none), peft's plain path is used: it is as fast as a pipeline
        with a single LoRA. Mixed batches go through peft's per-sample path; diffusers passes no `adapter_names`,
        so a forward pre-hook on every LoRA layer adds them. Classifier-free guidance doubles the batch as
        [uncond..., cond...]: the names are tiled to fit.
        """
        layers = self._all_layers()
        distinct = set(adapter_names)
        if len(distinct) == 1:
            (only,) = distinct
            for layer in layers:
                layer.enable_adapters(only != BASE)
                if only != BASE:
                    layer.set_adapter(only, inference_mode=True)
            yield
            return
        count = len(adapter_names)

        def add_names(module, args, kwargs):
            batch = args[0].shape[0] if args else next(iter(kwargs.values())).shape[0]
            if batch % count:
                raise RuntimeError(f"LoRA routing got a batch of {batch} for {count} samples.")
            kwargs["adapter_names"] = adapter_names * (batch // count)
            return args, kwargs

        handles = []
        for layer in layers:
            layer.enable_adapters(True)
            handles.append(layer.register_forward_pre_hook(add_names, with_kwargs=True))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()
