"""Per-persona LoRA adapters: loaded once as named adapters, kept in an LRU cache, routed per sample.

Uncompiled, every part of a LoRA is a named peft adapter. Under `COMPILE=on` the UNet part goes into
`LoraSlots` instead (see generation/lora_slots.py: no recompiles), and only the text-encoder part stays with peft.
"""

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
from generation.kohya_text_encoder import rename_text_encoder_layers
from generation.lora_slots import LoraSlots, read_unet_lora

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
        self.slots: LoraSlots | None = None
        self.loads = 0
        self.hits = 0
        self.evictions = 0
        self.outside_slots = 0  # UNet LoRAs that slots could not hold and peft loaded (a recompile each, compiled)

    def attach_slots(self, slots: LoraSlots) -> None:
        """From now on hold UNet LoRAs in `slots` (before compiling). Loaded LoRAs are unloaded: they load again,
        into slots, when next asked for."""
        for name in list(self._loaded):
            self.evict(name)
        self.slots = slots

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
        state_dict = rename_text_encoder_layers(self._pipe, load_safetensors(path))
        before = sum(1 for layer in self._all_layers() if name in layer.lora_A)
        in_slots = False
        try:
            if self.slots is None:
                self._pipe.load_lora_weights(state_dict, adapter_name=name)
            else:
                in_slots = self._load_with_slots(path, state_dict, name)
        except Exception as error:
            self._forget_partial(name)
            raise InvalidAssetError(
                f"{path.name} does not fit the model: LoRA layer names or shapes differ ({error})",
                problem=AssetProblem.DOES_NOT_FIT,
            ) from error
        finally:
            self._layers = None
        if not in_slots and sum(1 for layer in self._all_layers() if name in layer.lora_A) <= before:
            self._forget_partial(name)
            raise InvalidAssetError(
                f"{path.name} does not fit the model: no LoRA layer matched", problem=AssetProblem.DOES_NOT_FIT
            )
        log.info("loaded LoRA %s from %s", name, path)

    def _load_with_slots(self, path: Path, state_dict: dict, name: str) -> bool:
        """Text-encoder part into peft, UNet part into a slot. True when the UNet part is in a slot."""
        parts, plain = read_unet_lora(self._pipe, state_dict, name)
        if plain and not parts:
            return False  # a text-encoder-only LoRA
        if plain and self.slots.fits(parts) and self.slots.has_room():
            self.slots.put(name, parts)
            return True
        # DoRA, 3x3 convolutions (LoCon) or a very large rank: peft's way into the UNet, at one recompile.
        converted, alphas, metadata = self._pipe.lora_state_dict(dict(state_dict), return_lora_metadata=True)
        type(self._pipe).load_lora_into_unet(
            converted, alphas, unet=self._pipe.unet, adapter_name=name, metadata=metadata, _pipeline=self._pipe
        )
        self.outside_slots += 1
        log.warning("LoRA %s adapts layers the compiled UNet's slots do not cover: it costs a recompile", path.name)
        return False

    def _forget_partial(self, name: str) -> None:
        if self.slots is not None:
            self.slots.release(name)
        from diffusers.utils.peft_utils import delete_adapter_layers

        # Component by component, as diffusers' `delete_adapters` does, but only where the adapter is: with slots the
        # UNet may hold no peft adapter at all, and diffusers' UNet refuses to delete from an adapter-less model.
        for component in _adapter_components(self._pipe):
            if name not in (getattr(component, "peft_config", None) or {}):
                continue
            if hasattr(component, "delete_adapters"):
                component.delete_adapters(name)
            else:
                delete_adapter_layers(component, name)
        self._layers = None

    def _make_room(self, keep: set[str]) -> None:
        while len(self._loaded) >= self.capacity:
            victim = next((name for name in self._loaded if name not in keep), None)
            if victim is None:
                return  # every resident adapter is in use by this batch; exceed the bound briefly
            self.evict(victim)

    def evict(self, name: str) -> None:
        self._forget_partial(name)
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
    def route(self, adapter_names: list[str], scales: list[float]) -> Iterator[None]:
        """Run the next forward passes with one adapter per sample (`BASE` for none) at its strength.

        Slot-held UNet parts are routed by `LoraSlots`, everything peft holds (text encoders, and the UNet when
        uncompiled) by `_route_peft`.
        """
        if self.slots is None:
            with self._route_peft(adapter_names):
                yield
            return
        with self.slots.route([None if name == BASE else name for name in adapter_names], scales):
            with self._route_peft(adapter_names):
                yield

    @contextmanager
    def _route_peft(self, adapter_names: list[str]) -> Iterator[None]:
        """When the whole batch uses one adapter (or none), peft's plain path is used: it is as fast as a pipeline
        with a single LoRA. Mixed batches go through peft's per-sample path; diffusers passes no `adapter_names`,
        so a forward pre-hook on every LoRA layer adds them. Classifier-free guidance doubles the batch as
        [uncond..., cond...]: the names are tiled to fit.
        """
        # Layers without any adapter are left alone: peft keeps empty wrappers after deleting adapters, and
        # touching their flags would change a compiled UNet's guards.
        layers = [layer for layer in self._all_layers() if layer.lora_A]
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
