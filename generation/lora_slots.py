"""Persona LoRAs for a compiled UNet: fixed slots whose weights change while the compiled graph stays the same.

Why: peft adds modules to the UNet when a LoRA loads, so a compiled UNet sees a new module tree and recompiles
(tens of seconds on a GPU), and past torch._dynamo's recompile limit (8) it silently runs uncompiled from then on.
Measured on the demo model: every new persona cost one recompile, and the 8th froze the UNet in eager mode.

How: every eligible layer (each Linear and 1x1 convolution inside the UNet's transformer blocks: attention
projections, feed-forward, proj_in/out, which is what diffusers' and kohya's trainers adapt) carries a forward hook
that adds, per sample i, `scale[i] * B[slot[i]] @ A[slot[i]] @ x[i]`. The slots' weights are stacked tensors
`A [slots + 1, rank, in]`, `B [slots + 1, out, rank]`; slot 0 stays zero (no LoRA). Loading a persona copies its
weights into a free slot in place and routing a batch sets two small tensors, so loading, switching and mixing
personas change no guard and compile nothing. Only a LoRA of a larger rank than the slots hold grows them (the
rank doubles; one recompile each time). Memory: `slots + 1` x rank x the layers' (in + out) values, about 0.85 MB
per slot and rank unit in fp16 for SD 1.5 (9 slots at rank 16: 122 MB).

A LoRA's weights are read exactly as diffusers would load them (its own format conversion, alphas and per-layer
ranks) by loading it into a weightless copy of the UNet on the meta device. The text-encoder part, which is not
compiled, loads into the real text encoders as usual and stays with peft's per-sample routing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

log = logging.getLogger(__name__)

FIRST_RANK = 16  # the slots' starting rank; a larger LoRA doubles it until it fits
MAX_RANK = 256  # beyond this a LoRA goes peft's way (one recompile) rather than growing every slot


def eligible_layers(unet: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The UNet's layers that slots cover: Linear and 1x1 Conv2d inside its transformer blocks."""
    layers = {}
    for name, module in unet.named_modules():
        if ".attentions." not in f".{name}" or ".processor" in name or "lora_" in name:
            continue
        if isinstance(module, torch.nn.Linear) or (
            isinstance(module, torch.nn.Conv2d) and module.kernel_size == (1, 1) and module.groups == 1
        ):
            # A layer peft once wrapped keeps its own module as `base_layer`, which peft still calls.
            layers[name.removesuffix(".base_layer")] = module
    return layers


@dataclass
class LayerLora:
    """One layer's part of a LoRA: down [rank, in] and up [out, rank] with the LoRA's own scaling folded in."""

    down: torch.Tensor
    up: torch.Tensor


class SlotRouter:
    """Which slot and strength each row of the UNet's batch uses; off outside `Engine.run`.

    Fixed-size buffers, filled in place and read up to the batch size: their shape never changes, so routing a batch
    of any size changes no guard (side tensors of per-batch shapes would each need a graph of their own).
    """

    def __init__(self, device: torch.device, rows: int = 32) -> None:
        self.active = False
        self.index = torch.zeros(rows, dtype=torch.long, device=device)
        self.scale = torch.zeros(rows, device=device)

    def fill(self, indexes: list[int], scales: list[float]) -> None:
        """Row j of the UNet's batch is sample j mod n: classifier-free guidance stacks [uncond..., cond...]."""
        count = len(indexes)
        if 2 * count > self.index.shape[0]:  # room for the doubled batch; growing costs one recompile
            device = self.index.device
            self.index = torch.zeros(4 * count, dtype=torch.long, device=device)
            self.scale = torch.zeros(4 * count, device=device)
        rows = self.index.shape[0]
        self.index.copy_(torch.tensor([indexes[row % count] for row in range(rows)]))
        self.scale.copy_(torch.tensor([scales[row % count] for row in range(rows)]))


class SlotLayer:
    """The stacked slot weights of one layer and the hook that adds the per-sample LoRA output."""

    def __init__(self, module: torch.nn.Module, slots: int, rank: int, router: SlotRouter) -> None:
        weight = module.weight
        self.conv = isinstance(module, torch.nn.Conv2d)
        self.in_features = weight.shape[1]
        self.out_features = weight.shape[0]
        self.router = router
        self.down = torch.zeros(slots + 1, rank, self.in_features, device=weight.device, dtype=weight.dtype)
        self.up = torch.zeros(slots + 1, self.out_features, rank, device=weight.device, dtype=weight.dtype)
        module.register_forward_hook(self._add_lora)  # for the module's lifetime: the graph never changes

    @property
    def rank(self) -> int:
        return self.down.shape[1]

    def grow(self, rank: int) -> None:
        down = self.down.new_zeros(self.down.shape[0], rank, self.in_features)
        up = self.up.new_zeros(self.up.shape[0], self.out_features, rank)
        down[:, : self.rank] = self.down
        up[:, :, : self.rank] = self.up
        self.down, self.up = down, up

    def fill(self, slot: int, lora: LayerLora | None) -> None:
        self.down[slot].zero_()
        self.up[slot].zero_()
        if lora is not None:
            rank = lora.down.shape[0]  # a smaller rank is zero-padded: the product is unchanged
            self.down[slot, :rank] = lora.down.to(self.down)
            self.up[slot, :, :rank] = lora.up.to(self.up)

    def _add_lora(self, module, args, output):
        router = self.router
        if not router.active:
            return output
        x = args[0]
        batch = x.shape[0]
        index = router.index[:batch]
        scale = router.scale[:batch].to(x.dtype)
        flat = x.flatten(2).transpose(1, 2) if self.conv else x.reshape(batch, -1, self.in_features)
        hidden = torch.bmm(flat.to(self.down.dtype), self.down[index].transpose(1, 2))
        delta = torch.bmm(hidden, self.up[index].transpose(1, 2)) * scale.view(batch, 1, 1)
        delta = delta.transpose(1, 2) if self.conv else delta
        return output + delta.reshape(output.shape).to(output.dtype)


class LoraSlots:
    """`slots` persona LoRAs resident in a compiled UNet at once, routed per sample without recompiling."""

    def __init__(self, unet: torch.nn.Module, slots: int, rank: int = FIRST_RANK) -> None:
        if slots < 1:
            raise ValueError("LoRA slots need room for at least one adapter.")
        self.router = SlotRouter(unet.device)
        self.count = slots
        self.layers = {
            name: SlotLayer(module, slots, rank, self.router) for name, module in eligible_layers(unet).items()
        }
        self._owner: dict[int, str] = {}  # slot -> adapter name
        self.growths = 0

    @property
    def rank(self) -> int:
        return next(iter(self.layers.values())).rank if self.layers else 0

    def slot_of(self, name: str) -> int | None:
        return next((slot for slot, owner in self._owner.items() if owner == name), None)

    def has_room(self) -> bool:
        return len(self._owner) < self.count

    def fits(self, parts: dict[str, LayerLora]) -> bool:
        """Whether every layer of this LoRA is a slot layer of the right shape and its rank is within MAX_RANK."""
        for name, part in parts.items():
            layer = self.layers.get(name)
            if layer is None or part.down.shape[0] > MAX_RANK:
                return False
            if part.down.shape[1] != layer.in_features or part.up.shape[0] != layer.out_features:
                return False
        return True

    def put(self, name: str, parts: dict[str, LayerLora]) -> int:
        """Copy a LoRA's layers into a free slot (growing the rank if it must). Returns the slot."""
        slot = next(index for index in range(1, self.count + 1) if index not in self._owner)
        needed = max(part.down.shape[0] for part in parts.values())
        if needed > self.rank:
            rank = self.rank
            while rank < needed:
                rank *= 2
            for layer in self.layers.values():
                layer.grow(rank)
            self.growths += 1
            log.info("LoRA slots grew to rank %d (one recompile)", rank)
        for layer_name, layer in self.layers.items():
            layer.fill(slot, parts.get(layer_name))
        self._owner[slot] = name
        return slot

    def release(self, name: str) -> None:
        slot = self.slot_of(name)
        if slot is not None:
            del self._owner[slot]
            for layer in self.layers.values():
                layer.fill(slot, None)

    @contextmanager
    def route(self, names: list[str | None], scales: list[float]) -> Iterator[None]:
        """Per sample: the adapter (None or one not in a slot: no slot LoRA) and its strength."""
        indexes = [(self.slot_of(name) or 0) if name else 0 for name in names]
        if not self.layers or not any(indexes):
            yield  # no slot LoRA in this batch: the hooks stay off and cost nothing
            return
        with self._routing(indexes, scales):
            yield

    def blank(self, batch: int):
        """Slots on but every sample in the empty slot 0: for compiling the with-LoRA graph at start."""
        return self._routing([0] * batch, [1.0] * batch)

    @contextmanager
    def _routing(self, indexes: list[int], scales: list[float]) -> Iterator[None]:
        if not self.layers:
            yield
            return
        self.router.fill(indexes, scales)
        self.router.active = True
        try:
            yield
        finally:
            self.router.active = False


def read_unet_lora(pipe, state_dict: dict, adapter_name: str) -> tuple[dict[str, LayerLora], bool]:
    """Load `state_dict` as diffusers would, with the UNet part going into a weightless meta-device UNet.

    The text-encoder part lands in the real text encoders under `adapter_name`. Returns the UNet part per layer
    (scaling folded into `up`) and whether slots can hold it: False for DoRA, LoRA biases and layers that are not
    plain weight matrices (3x3 convolutions); the caller then loads the UNet part into the real UNet with peft.
    """
    from peft.tuners.lora import LoraLayer

    unet = pipe.unet
    with torch.device("meta"):
        shadow = type(unet).from_config(_plain_config(unet))
    # peft moves each adapter to its base layer's device, so the layers slots can hold get a CPU weight of the real
    # shape and dtype that takes one number of memory; a LoRA on any other layer stays on meta and is not read.
    dtype = unet.dtype
    for module in eligible_layers(shadow).values():
        module.weight = torch.nn.Parameter(torch.zeros((), dtype=dtype).expand(module.weight.shape), False)
    object.__setattr__(pipe, "unet", shadow)  # bypass the pipeline's config bookkeeping: restored just below
    try:
        pipe.load_lora_weights(dict(state_dict), adapter_name=adapter_name, low_cpu_mem_usage=True)
    finally:
        object.__setattr__(pipe, "unet", unet)
    parts: dict[str, LayerLora] = {}
    plain = True
    for name, module in shadow.named_modules():
        if not isinstance(module, LoraLayer) or adapter_name not in module.lora_A:
            continue
        down, up = module.lora_A[adapter_name], module.lora_B[adapter_name]
        if (
            module.use_dora.get(adapter_name)
            or getattr(up, "bias", None) is not None
            or not isinstance(down, torch.nn.Linear | torch.nn.Conv2d)
            or (isinstance(down, torch.nn.Conv2d) and down.kernel_size != (1, 1))
        ):
            plain = False
            continue
        scaling = module.scaling[adapter_name]
        parts[name] = LayerLora(
            down=down.weight.detach().flatten(1).clone(), up=(up.weight.detach().flatten(1) * scaling).clone()
        )
    return parts, plain


def _plain_config(unet) -> dict:
    """The UNet's configuration without an IP-Adapter's image projection (a weightless copy needs none)."""
    config = dict(unet.config)
    if config.get("encoder_hid_dim_type") in ("ip_image_proj", None):
        config["encoder_hid_dim_type"] = None
        config["encoder_hid_dim"] = None
    return config
