"""`COMPILE=on`: torch.compile of the UNet, warmed at start, with its recompiles and graph breaks counted.

`unet.compile()` compiles in place, so the pipeline, the LoRA loaders and `AdapterCache` keep seeing the same module
(wrapping it in an `OptimizedModule` would hide the peft layers behind `_orig_mod`). Loading or evicting a persona
LoRA changes the module tree and costs a recompile; routing a mixed batch adds a forward pre-hook per LoRA layer,
which dynamo traces into the graph (a new guard, so one more compiled variant per batch layout, not a graph break).
The counters below show what a real run costs; `benchmarks/gpu_check.py` prints them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class CompileMode(StrEnum):
    OFF = "off"
    ON = "on"


@dataclass(frozen=True)
class CompileStats:
    """torch._dynamo's counters at one moment: compiled graphs, graph breaks and recompiles so far."""

    graphs: int  # distinct graphs compiled (a recompile adds one)
    graph_breaks: int  # places dynamo had to stop tracing and fall back to Python
    recompiles: int  # times a guard failed and a frame was compiled again
    break_reasons: tuple[str, ...] = ()

    def since(self, earlier: CompileStats) -> CompileStats:
        return CompileStats(
            graphs=self.graphs - earlier.graphs,
            graph_breaks=self.graph_breaks - earlier.graph_breaks,
            recompiles=self.recompiles - earlier.recompiles,
            break_reasons=tuple(reason for reason in self.break_reasons if reason not in earlier.break_reasons),
        )

    def as_dict(self) -> dict:
        return {
            "graphs": self.graphs,
            "graph_breaks": self.graph_breaks,
            "recompiles": self.recompiles,
            "break_reasons": list(self.break_reasons)[:10],
        }


def compile_stats() -> CompileStats:
    from torch._dynamo.utils import counters

    breaks = counters.get("graph_break", {})
    stats = counters.get("stats", {})
    recompiles = counters.get("recompiles", {})
    graphs = stats.get("unique_graphs", 0)
    return CompileStats(
        graphs=int(graphs),
        graph_breaks=int(sum(breaks.values())),
        recompiles=int(sum(recompiles.values())),
        break_reasons=tuple(sorted(str(reason)[:160] for reason in breaks)),
    )


@dataclass(frozen=True)
class CompileReport:
    warm_up_s: float
    stats: CompileStats


def compile_unet(
    pipe, *, warm_up: Callable[[], object] | None = None, mode: str | None = None, backend: str = "inductor"
) -> CompileReport:
    """Compile `pipe.unet` in place and run `warm_up` (one small picture) so the first selfie does not pay for it.

    `mode`: torch.compile's mode (None: the default; "max-autotune" tunes kernels longer for a little more speed).
    On CUDA the UNet is also switched to channels_last memory, which the compiled convolutions prefer.
    `backend="eager"` traces with dynamo (same graphs, breaks and recompiles) without generating code: for smoke
    runs, where inductor's minutes of C++ compilation on a CPU would dwarf the check.
    """
    import torch

    before = compile_stats()
    if pipe.unet.device.type == "cuda":
        pipe.unet.to(memory_format=torch.channels_last)
    pipe.unet.compile(mode=mode, fullgraph=False, dynamic=False, backend=backend)
    started = time.perf_counter()
    if warm_up is not None:
        warm_up()
    return CompileReport(warm_up_s=time.perf_counter() - started, stats=compile_stats().since(before))
