"""The LoRA being trained, living inside a pipeline that may be serving selfies between training steps.

The trained adapter is one more named peft adapter beside the persona LoRAs that `AdapterCache` keeps resident. It
must never leak into a selfie, and persona LoRAs must never leak into training:
- between steps it is inactive in every layer (layers created for it alone are left with no active adapter, so
  they are inert even for code that does not know them);
- during a step, `active()` makes it the only active adapter everywhere and disables all other LoRA layers, then
  puts every layer back exactly as it found it.
`remove()` deletes it and unwraps the layers that were created only for it, leaving the model as it was.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

ADAPTER_NAME = "selfiebot_training"
COMPONENTS = ("unet", "text_encoder", "text_encoder_2")


@dataclass(frozen=True)
class TrainedLayer:
    component: str  # "unet", "text_encoder", "text_encoder_2"
    path: str  # module path inside the component
    layer: torch.nn.Module  # the peft LoraLayer

    @property
    def key(self) -> str:
        """The diffusers file-key prefix of this layer."""
        return f"{self.component}.{self.path}"

    @property
    def down(self) -> torch.nn.Parameter:
        return self.layer.lora_A[ADAPTER_NAME].weight

    @property
    def up(self) -> torch.nn.Parameter:
        return self.layer.lora_B[ADAPTER_NAME].weight


def components(pipe) -> dict[str, torch.nn.Module]:
    return {name: module for name in COMPONENTS if (module := getattr(pipe, name, None)) is not None}


def all_lora_layers(pipe) -> list[torch.nn.Module]:
    from peft.tuners.lora import LoraLayer

    return [module for component in components(pipe).values() for module in component.modules()
            if isinstance(module, LoraLayer)]  # fmt: skip


def unet_targets(unet, suffixes: tuple[str, ...]) -> list[str]:
    """Full module names of the UNet's own attention projections. Explicit names keep the LoRA off modules that
    come and go with the IP-Adapter (its Plus projection has attention layers of its own)."""
    return [
        name
        for name, module in unet.named_modules()
        if _is_linear(module)
        and name.split(".")[0] in {"down_blocks", "mid_block", "up_blocks"}
        and any(name.endswith(f".{suffix}") for suffix in suffixes)
    ]


def text_encoder_targets(encoder, suffixes: tuple[str, ...]) -> list[str]:
    return [
        name
        for name, module in encoder.named_modules()
        if _is_linear(module) and ".self_attn." in name and name.rsplit(".", 1)[-1] in suffixes
    ]


def _is_linear(module: torch.nn.Module) -> bool:
    """A linear layer, bare or already wrapped by peft for a persona LoRA."""
    from peft.tuners.lora import LoraLayer

    if isinstance(module, LoraLayer):
        module = module.get_base_layer()
    return isinstance(module, torch.nn.Linear)


def inject(pipe, targets: dict[str, list[str]], *, rank: int, seed: int) -> list[TrainedLayer]:
    """Add the training adapter to each component's `targets` (fp32 weights, B zero, A drawn from `seed`) and leave
    it inactive. Returns the trained layers in a fixed order."""
    from peft import LoraConfig, inject_adapter_in_model

    remove(pipe)  # a run that was never closed (a crash) left its adapter behind
    before = {id(layer): _state(layer) for layer in all_lora_layers(pipe)}
    parts = components(pipe)
    for name, names in targets.items():
        if names:
            config = LoraConfig(r=rank, lora_alpha=rank, lora_dropout=0.0, target_modules=names, init_lora_weights=True)
            inject_adapter_in_model(config, parts[name], adapter_name=ADAPTER_NAME)
    trained = trained_layers(pipe)
    generator = torch.Generator().manual_seed(seed)
    for item in trained:
        # Drawn here from our own generator (peft's initialiser uses the global one): the same seed, the same LoRA.
        down = torch.empty(item.down.shape, dtype=torch.float32)
        torch.nn.init.kaiming_uniform_(down, a=math.sqrt(5), generator=generator)
        item.layer.lora_A[ADAPTER_NAME].to(torch.float32)
        item.layer.lora_B[ADAPTER_NAME].to(torch.float32)
        with torch.no_grad():
            item.down.copy_(down)
            item.up.zero_()
    for layer in all_lora_layers(pipe):
        if id(layer) in before:
            _restore(layer, before[id(layer)])
        else:
            layer.set_adapter([])  # created for the training adapter alone: inert between steps
    return trained


def trained_layers(pipe) -> list[TrainedLayer]:
    from peft.tuners.lora import LoraLayer

    found = []
    for component_name, component in components(pipe).items():
        for path, module in component.named_modules():
            if isinstance(module, LoraLayer) and ADAPTER_NAME in module.lora_A:
                found.append(TrainedLayer(component_name, path, module))
    return found


@contextmanager
def active(pipe) -> Iterator[None]:
    """The training adapter alone, everywhere, for one step; every LoRA layer's state is put back afterwards."""
    layers = all_lora_layers(pipe)
    saved = [(layer, _state(layer)) for layer in layers]
    for layer in layers:
        if ADAPTER_NAME in layer.lora_A:
            if layer.disable_adapters:
                layer.enable_adapters(True)
            layer.set_adapter([ADAPTER_NAME])  # also marks its weights trainable
        elif not layer.disable_adapters:
            layer.enable_adapters(False)
    try:
        yield
    finally:
        for layer, state in saved:
            if _state(layer) != state:
                _restore(layer, state)


def remove(pipe) -> None:
    """Delete the training adapter and unwrap layers that held nothing else."""
    from peft.tuners.lora import LoraLayer

    for component in components(pipe).values():
        wrapped = [(path, m) for path, m in component.named_modules() if isinstance(m, LoraLayer)]
        if not any(ADAPTER_NAME in module.lora_A for _, module in wrapped):
            continue
        for path, module in wrapped:
            if ADAPTER_NAME not in module.lora_A:
                continue
            module.delete_adapter(ADAPTER_NAME)
            if not module.lora_A:
                parent_path, _, child = path.rpartition(".")
                parent = component.get_submodule(parent_path) if parent_path else component
                setattr(parent, child, module.get_base_layer())
        config = getattr(component, "peft_config", None)
        if isinstance(config, dict):
            config.pop(ADAPTER_NAME, None)
            if not config:
                del component.peft_config
                if getattr(component, "_hf_peft_config_loaded", False):
                    component._hf_peft_config_loaded = False


def _state(layer) -> tuple[tuple[str, ...], bool]:
    return tuple(layer.active_adapters), bool(layer.disable_adapters)


def _restore(layer, state: tuple[tuple[str, ...], bool]) -> None:
    adapters, disabled = state
    layer.set_adapter(list(adapters))
    layer.enable_adapters(not disabled)
