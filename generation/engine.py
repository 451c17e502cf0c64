"""The synchronous core: one loaded pipeline, its adapter and reference caches, and batched pipeline calls.

Only the service's worker thread calls into an Engine; nothing here is thread-safe on purpose.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from generation.adapters import BASE, AdapterCache
from generation.assets import ContentHashes
from generation.devices import resolve_device, resolve_dtype
from generation.errors import ModelLoadError, ReferencesUnsupported
from generation.loading import (
    LoadedModel,
    find_ip_adapter_weights,
    ip_adapter_identity,
    load_pipeline,
    resolve_ip_adapter,
)
from generation.references import ReferenceCache, ReferenceEmbeddings
from generation.request import GenerationRequest
from generation.schedulers import use_scheduler

log = logging.getLogger(__name__)


@dataclass
class PreparedRequest:
    """A request with its persona assets resolved to resident adapters and cached embeddings."""

    request: GenerationRequest
    adapter: str | None = None
    lora_hash: str | None = None
    embeddings: ReferenceEmbeddings | None = None
    reference_hash: str | None = None


class IPAdapterSwitch:
    """Turns the IP-Adapter on for batches with references and off for batches without.

    A UNet with IP-Adapter processors insists on image embeddings, so pictures without a reference run with the
    original processors, exactly as a pipeline that never loaded the IP-Adapter would.
    """

    def __init__(self, pipe, location: Path) -> None:
        """`location` is an IP-Adapter folder (weights + image_encoder/) or one weights file inside such a folder,
        for folders that hold several variants (e.g. ip-adapter_sd15 and ip-adapter-plus_sd15)."""
        self._pipe = pipe
        location = resolve_ip_adapter(location)  # a hub id becomes the cached folder or file
        unet = pipe.unet
        self._plain = (dict(unet.attn_processors), unet.encoder_hid_proj, unet.config.encoder_hid_dim_type)
        if location.is_file():
            folder, weight_name = location.parent, location.name
            if location.suffix != ".safetensors":
                raise ModelLoadError(
                    f"IP-Adapter weights {location} are not .safetensors (pickled files are not loaded)",
                    source=str(location),
                )
        else:
            folder, weight_name = location, find_ip_adapter_weights(location)
        if not (folder / "image_encoder").is_dir():
            raise ModelLoadError(
                f"{folder} has no image_encoder/ folder next to the IP-Adapter weights", source=str(folder)
            )
        pipe.load_ip_adapter(str(folder), subfolder="", weight_name=weight_name, image_encoder_folder="image_encoder")
        self._with_ip = (dict(unet.attn_processors), unet.encoder_hid_proj, unet.config.encoder_hid_dim_type)
        from diffusers.models.embeddings import ImageProjection

        self.wants_hidden_states = not isinstance(unet.encoder_hid_proj.image_projection_layers[0], ImageProjection)
        self.identity = ip_adapter_identity(folder, weight_name)
        self._on: bool | None = None
        self.disable()

    def enable(self, scale: float) -> None:
        if self._on is not True:
            self._apply(self._with_ip)
            self._on = True
        self._pipe.set_ip_adapter_scale(scale)

    def disable(self) -> None:
        if self._on is not False:
            self._apply(self._plain)
            self._on = False

    def _apply(self, state) -> None:
        processors, hid_proj, hid_type = state
        unet = self._pipe.unet
        # The projection first: IP-Adapter Plus projects through attention layers of its own, which then count
        # among the UNet's processors.
        unet.encoder_hid_proj = hid_proj
        unet.config.encoder_hid_dim_type = hid_type
        unet.set_attn_processor(dict(processors))  # diffusers pops from the dict it is given


class Engine:
    def __init__(
        self,
        loaded: LoadedModel,
        ip_adapter: Path | None = None,
        lora_capacity: int = 8,
        cache_dir: Path | None = None,
    ) -> None:
        self.pipe = loaded.pipe
        self.model_label = loaded.label
        self.device = self.pipe._execution_device
        self._hashes = ContentHashes()
        self._counting_tokenizer = None
        self.adapters = AdapterCache(self.pipe, lora_capacity, self._hashes)
        self._ip: IPAdapterSwitch | None = None
        self.references: ReferenceCache | None = None
        ip_folder = ip_adapter or loaded.default_ip_adapter
        if ip_folder:
            self._ip = IPAdapterSwitch(self.pipe, Path(ip_folder))
            disk = Path(cache_dir) / "embeddings" if cache_dir else None
            self.references = ReferenceCache(
                self.pipe, disk, self._ip.identity, self._ip.wants_hidden_states, self._hashes
            )
        # Speed options (generation/speed.py sets them): the SCHEDULER a "default" request gets from the service,
        # and the latent previewer whose pictures `run(on_preview=)` hands out every few steps.
        self.default_scheduler = "default"
        self.preview = None

    @classmethod
    def load(
        cls,
        model: str = "demo",
        device: str = "auto",
        data_dir: Path = Path("data"),
        ip_adapter: Path | None = None,
        lora_capacity: int = 8,
        dtype: str = "auto",
    ) -> Engine:
        resolved = resolve_device(device)
        loaded = load_pipeline(model, resolved, resolve_dtype(dtype, resolved), Path(data_dir))
        return cls(loaded, ip_adapter=ip_adapter, lora_capacity=lora_capacity, cache_dir=Path(data_dir) / "cache")

    @property
    def native_size(self) -> int:
        """The picture size (pixels) the model was trained at: 512 for SD 1.5, 1024 for SDXL, 64 for tiny demo."""
        return int(self.pipe.unet.config.sample_size * self.pipe.vae_scale_factor)

    @property
    def supports_references(self) -> bool:
        return self.references is not None

    def count_tokens(self, text: str) -> int:
        """Tokens the pipeline's text encoder sees for `text`, without BOS/EOS. Safe to call from the event loop
        while the worker thread generates: it uses its own copy of the tokenizer, because a fast tokenizer's
        truncation settings are changed per call and concurrent calls on one instance fail ("Already borrowed")."""
        if self._counting_tokenizer is None:
            self._counting_tokenizer = copy.deepcopy(self.pipe.tokenizer)
        return len(self._counting_tokenizer(text, add_special_tokens=False, truncation=False).input_ids)

    def switch_ip_adapter_off(self) -> None:
        """Put the UNet's original attention processors back (a no-op without an IP-Adapter). LoRA training calls
        this before each step: a UNet with its IP-Adapter on cannot run without image embeddings. The next batch
        with a reference switches it on again by itself."""
        if self._ip is not None:
            self._ip.disable()

    def prepare(self, request: GenerationRequest, pinned: set[str] = frozenset()) -> PreparedRequest:
        """Resolve the request's LoRA and reference. Raises InvalidAssetError for unusable files."""
        prepared = PreparedRequest(request)
        if request.lora_path:
            prepared.adapter, prepared.lora_hash = self.adapters.ensure(Path(request.lora_path), pinned)
        if request.reference_path:
            if self.references is None:
                raise ReferencesUnsupported("request has a reference image but no IP-Adapter is loaded")
            prepared.embeddings, prepared.reference_hash = self.references.get(Path(request.reference_path))
        return prepared

    def prepare_batch(self, requests: list[GenerationRequest]) -> list[PreparedRequest]:
        """`prepare` for requests that will share one `run`: their adapters stay resident while the others load.
        (The service does the same per job, keeping a failing request's error to that request.)"""
        pinned: set[str] = set()
        prepared = []
        for request in requests:
            prepared.append(self.prepare(request, pinned))
            if prepared[-1].adapter:
                pinned.add(prepared[-1].adapter)
        return prepared

    def run(
        self,
        batch: list[PreparedRequest],
        on_step: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        on_preview: Callable[[int, int, list[bytes]], None] | None = None,
    ):
        """One pipeline call for the whole batch; returns one PIL image per request, in order.

        `on_preview(step, total, pngs)` gets one small preview PNG per request every few steps when the engine has
        a previewer (`self.preview`).

        Each sample gets its own generator (so it equals its solo picture), its own LoRA and its own embeddings.
        """
        first = batch[0].request
        if any(p.request.batch_key != first.batch_key for p in batch):
            raise ValueError("A batch must share size, steps and guidance.")
        scales = {p.adapter: p.request.lora_scale for p in batch if p.adapter}
        self.adapters.set_scales(scales)
        extra = self._reference_arguments(batch)
        generators = [torch.Generator("cpu").manual_seed(p.request.seed) for p in batch]

        def step_end(pipe, step, timestep, tensors):
            if on_step is not None:
                on_step(step + 1, pipe.num_timesteps)  # PNDM runs one more than asked
            if on_preview is not None and self.preview is not None and self.preview.due(step + 1, pipe.num_timesteps):
                on_preview(step + 1, pipe.num_timesteps, self.preview.pictures(tensors["latents"]))
            if should_stop is not None and should_stop():
                pipe._interrupt = True
            return tensors

        with (
            self.adapters.route([p.adapter or BASE for p in batch], [p.request.lora_scale for p in batch]),
            _per_sample_image_embeds(self.pipe, extra),
            use_scheduler(self.pipe, first.scheduler),
            torch.inference_mode(),
        ):
            output = self.pipe(
                prompt=[p.request.prompt for p in batch],
                negative_prompt=[p.request.negative_prompt for p in batch],
                num_inference_steps=first.steps,
                guidance_scale=first.guidance,
                width=first.width,
                height=first.height,
                generator=generators,
                callback_on_step_end=step_end,
                **extra,
            )
        return output.images

    def _reference_arguments(self, batch: list[PreparedRequest]) -> dict:
        with_reference = [p.embeddings is not None for p in batch]
        if not any(with_reference):
            if self._ip is not None:
                self._ip.disable()
            return {}
        scales = {p.request.ip_scale for p in batch}
        if not all(with_reference) or len(scales) != 1:
            raise ValueError("A batch with references must give every sample one, at one IP-Adapter scale.")
        self._ip.enable(scales.pop())
        # Per-sample embeddings in the layout the UNet takes: [negatives..., positives...] along the batch.
        # Passing the images would blend different references across the batch (diffusers #9813), and precomputed
        # embeddings are repeated per prompt by the pipeline; `_per_sample_image_embeds` hands these over as they are.
        positive = torch.cat([p.embeddings.positive[None] for p in batch])
        if batch[0].request.guidance > 1:
            negative = torch.cat([p.embeddings.negative[None] for p in batch])
            positive = torch.cat([negative, positive])
        return {"ip_adapter_image_embeds": [positive.to(self.device)]}


@contextmanager
def _per_sample_image_embeds(pipe, extra: dict) -> Iterator[None]:
    """Make the pipeline use our per-sample IP-Adapter embeddings unchanged for this call."""
    embeds = extra.get("ip_adapter_image_embeds")
    if embeds is None:
        yield
        return
    pipe.prepare_ip_adapter_image_embeds = lambda *args, **kwargs: embeds
    try:
        yield
    finally:
        del pipe.prepare_ip_adapter_image_embeds  # the class method shows through again
