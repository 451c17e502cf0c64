"""`COMPILE=on`: torch.compile of the UNet, warmed at start, with persona LoRAs in slots and its graphs counted.

`unet.compile()` compiles in place, so the pipeline, the LoRA loaders and `AdapterCache` keep seeing the same module
(wrapping it in an `OptimizedModule` would hide the peft layers behind `_orig_mod`). Persona LoRAs go into
`generation/lora_slots.py`'s fixed slots, so loading, switching and mixing personas compile nothing; peft's own
loading added modules, and every new persona cost a recompile until dynamo's limit froze the UNet in eager mode.
Shapes are left to dynamo's automatic dynamic mode: the warm-up runs batches of one, two and MAX_BATCH requests,
after which the batch dimension is symbolic and every batch size up to MAX_BATCH reuses a graph. `GraphCounter` counts every graph the backend is asked
to compile, so a recompile anywhere shows in `engine.compile_report` and in `benchmarks/gpu_check.py`'s output.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

LARGEST_BATCH = 8  # requests per pipeline call the warm-up covers (MAX_BATCH defaults to 4 on a GPU; best of N adds)
RECOMPILE_LIMIT = 64  # dynamo's default (8) is reached by two compiled UNets' warm-ups alone


class CompileMode(StrEnum):
    OFF = "off"
    ON = "on"


class GraphCounter:
    """A torch.compile backend that counts the graphs it compiles, then hands each to the real backend.

    `backend="eager"` traces with dynamo (the same graphs, guards and recompiles) without generating code: for
    tests and smoke runs, where inductor's minutes of C++ compilation on a CPU would dwarf the check.
    """

    def __init__(self, backend: str = "inductor", mode: str | None = None) -> None:
        self.backend = backend
        self.mode = mode
        self.graphs = 0

    def __call__(self, graph_module, example_inputs):
        self.graphs += 1
        if self.backend == "inductor" and self.mode:
            from torch._inductor import list_mode_options
            from torch._inductor.compile_fx import compile_fx

            return compile_fx(graph_module, example_inputs, config_patches=list_mode_options(self.mode))
        from torch._dynamo.backends.registry import lookup_backend

        return lookup_backend(self.backend)(graph_module, example_inputs)


def graph_breaks() -> tuple[int, tuple[str, ...]]:
    """Graph breaks so far in this process (places dynamo stopped tracing and fell back to Python), with reasons."""
    from torch._dynamo.utils import counters

    breaks = counters.get("graph_break", {})
    return int(sum(breaks.values())), tuple(sorted(str(reason)[:160] for reason in breaks))


@dataclass(frozen=True)
class CompileReport:
    warm_up_s: float
    graphs: int  # graphs compiled by the warm-up
    graph_breaks: int
    break_reasons: tuple[str, ...]
    counter: GraphCounter

    def graphs_since_warm_up(self) -> int:
        """Recompiles after start: each is a wait of seconds to a minute for the selfie that caused it."""
        return self.counter.graphs - self.graphs

    def as_dict(self) -> dict:
        return {
            "warm_up_s": round(self.warm_up_s, 2),
            "graphs_at_warm_up": self.graphs,
            "graphs_since_warm_up": self.graphs_since_warm_up(),
            "graph_breaks": self.graph_breaks,
            "break_reasons": list(self.break_reasons)[:10],
        }


def compile_unet(
    pipe, *, warm_up: Callable[[], object] | None = None, mode: str | None = None, backend: str = "inductor"
) -> CompileReport:
    """Compile `pipe.unet` in place and run `warm_up` so the first selfie does not pay for it.

    `mode`: torch.compile's mode (None: the default; "max-autotune" tunes kernels longer for a little more speed).
    On CUDA the UNet is also switched to channels_last memory, which the compiled convolutions prefer.
    """
    import torch

    breaks_before, reasons_before = graph_breaks()
    # The limit is per code object, and every UNet in the process shares the decorated forward's: two engines
    # (DEVICE=cuda:0,cuda:1) warm eight graphs between them, and past the limit dynamo silently runs eager.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, RECOMPILE_LIMIT)
    torch._dynamo.config.accumulated_recompile_limit = max(
        torch._dynamo.config.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT
    )
    if pipe.unet.device.type == "cuda":
        pipe.unet.to(memory_format=torch.channels_last)
    counter = GraphCounter(backend, mode)
    pipe.unet.compile(backend=counter, fullgraph=False)
    started = time.perf_counter()
    if warm_up is not None:
        warm_up()
    breaks, reasons = graph_breaks()
    return CompileReport(
        warm_up_s=time.perf_counter() - started,
        graphs=counter.graphs,
        graph_breaks=breaks - breaks_before,
        break_reasons=tuple(reason for reason in reasons if reason not in reasons_before),
        counter=counter,
    )


def compile_engine(
    engine, warm_request, *, largest_batch: int = LARGEST_BATCH, mode: str | None = None, backend: str = "inductor"
) -> CompileReport:
    """Give the engine's persona LoRAs slots, compile its UNet and warm every variant a selfie will need.

    Batches of one and two requests make the batch dimension dynamic, and one of `largest_batch` covers the sizes
    beyond where a convolution backend changes (dynamo splits the batch range there: on the CPU at 16 rows); the
    same with the LoRA slots in use, and with an IP-Adapter all of it again with a reference (its embeddings are an
    input of their own). After that neither a new persona, a switch, a mixed batch nor a batch size up to
    `largest_batch` compiles anything (tests/generation/test_lora_slots.py and benchmarks/gpu_check.py count).
    """
    from dataclasses import replace

    from generation.lora_slots import LoraSlots

    adapters = engine.adapters
    if adapters.slots is None:
        adapters.attach_slots(LoraSlots(engine.pipe.unet, adapters.capacity))
    sizes = sorted({1, 2, max(2, largest_batch)})

    def draw_each_size(request) -> None:
        for size in sizes:
            batch = [replace(request, seed=request.seed + i) for i in range(size)]
            engine.run([engine.prepare(r) for r in batch])
            if size > 1:
                with adapters.slots.blank(size):
                    engine.run([engine.prepare(r) for r in batch])

    def warm_up() -> None:
        draw_each_size(warm_request)
        if engine.supports_references:
            with _warm_up_reference() as picture:
                draw_each_size(replace(warm_request, reference_path=picture))

    return compile_unet(engine.pipe, warm_up=warm_up, mode=mode, backend=backend)


@contextmanager
def _warm_up_reference() -> Iterator[Path]:
    """A plain grey picture to stand in for a persona's reference while the IP-Adapter's graphs compile."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="selfiebot-warm-up-") as folder:
        path = Path(folder) / "reference.png"
        Image.new("RGB", (64, 64), (128, 128, 128)).save(path)
        yield path
