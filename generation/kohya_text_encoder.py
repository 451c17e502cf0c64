"""Text-encoder layers of kohya-ss / web-UI LoRA files, renamed to the layout diffusers loads.

Community LoRAs (AUTOMATIC1111, ComfyUI, civitai) name text-encoder layers `lora_te_text_model_encoder_layers_0_
self_attn_q_proj.lora_down.weight` (SDXL: `lora_te1_` / `lora_te2_`) with an `.alpha` each. diffusers 0.42 with
transformers 5, whose CLIP text models have no `text_model.` level any more, cannot load those: the whole file fails
with "Could not automatically infer state dict type", so a common LoRA was refused as "does not fit the model".

`rename_text_encoder_layers` finds each such layer among the text encoder's real modules (with or without the
`text_model` level, underscores standing for dots) and writes it as peft keys, `text_encoder.<module>.lora_A.weight`
/ `lora_B.weight`, with the layer's `alpha / rank` folded into `lora_B` (diffusers then applies scale 1, as it does
for files without alphas). The UNet part is converted by diffusers itself (`lora_state_dict`, which knows the
original-LDM names web UIs use), with its alphas folded the same way: diffusers only detects the kohya layout in a
file that is kohya throughout, so the two parts cannot simply be mixed.
"""

from __future__ import annotations

import torch

PREFIXES = {"lora_te_": "text_encoder", "lora_te1_": "text_encoder", "lora_te2_": "text_encoder_2"}


def rename_text_encoder_layers(pipe, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state_dict` with its kohya text-encoder layers in peft layout; unchanged when it has none."""
    kohya = {key for key in state_dict if _component_of(key) is not None}
    if not kohya:
        return state_dict
    rest = {key: value for key, value in state_dict.items() if key not in kohya}
    renamed = _unet_with_alphas_folded(pipe, rest) if rest else {}
    modules: dict[str, dict[str, str]] = {}
    for key in kohya:
        if not key.endswith(".lora_down.weight"):
            continue  # ups and alphas are read with their down weight
        prefix, component = _component_of(key)
        layer = key.removesuffix(".lora_down.weight")
        if component not in modules:
            modules[component] = _module_names(getattr(pipe, component, None))
        module = modules[component].get(layer.removeprefix(prefix))
        up = state_dict.get(f"{layer}.lora_up.weight")
        if module is None or up is None:
            continue  # left out, as diffusers leaves out layers a model does not have
        down = state_dict[key]
        rank = down.shape[0]
        alpha = state_dict.get(f"{layer}.alpha")
        scale = float(alpha) / rank if alpha is not None else 1.0
        renamed[f"{component}.{module}.lora_A.weight"] = down
        renamed[f"{component}.{module}.lora_B.weight"] = up * scale
    return renamed


def _unet_with_alphas_folded(pipe, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """diffusers' conversion of the file's other layers, each up weight times its `alpha / rank`."""
    converted, alphas = pipe.lora_state_dict(dict(state_dict))
    converted = dict(converted)
    for alpha_key, alpha in (alphas or {}).items():
        down_key = alpha_key.removesuffix(".alpha")
        up_key = down_key.replace(".down.", ".up.").replace("lora_A", "lora_B")
        if down_key in converted and up_key in converted:
            converted[up_key] = converted[up_key] * (float(alpha) / converted[down_key].shape[0])
    return converted


def _component_of(key: str) -> tuple[str, str] | None:
    for prefix, component in PREFIXES.items():
        if key.startswith(prefix):
            return prefix, component
    return None


def _module_names(component) -> dict[str, str]:
    """Each Linear of the text encoder by its name with underscores, with and without a `text_model` level."""
    names: dict[str, str] = {}
    if component is None:
        return names
    for name, module in component.named_modules():
        if isinstance(module, torch.nn.Linear) and ".lora_" not in name:
            # A layer holding another LoRA is a peft wrapper around its Linear, named `base_layer`.
            name = name.removesuffix(".base_layer")
            flat = name.replace(".", "_")
            names[flat] = name
            names.setdefault(f"text_model_{flat}", name)
            names.setdefault(flat.removeprefix("text_model_"), name)
    return names
