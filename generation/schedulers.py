"""Sampler choice (`SCHEDULER`): names a request can carry, mapped to diffusers scheduler classes and options.

A request names its scheduler, so "Details" and `selfiebot render --scheduler` redraw a picture exactly. Every
scheduler is built with `from_config(pipe.scheduler.config, ...)`, so the model's own betas and timestep spacing are
kept and only the sampling method changes. `default` is the scheduler the model was saved with.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum


class SchedulerName(StrEnum):
    DEFAULT = "default"  # the model's own (PNDM for SD 1.5 folders, Euler for SDXL)
    EULER = "euler"
    EULER_A = "euler_a"
    DPMPP_2M = "dpmpp_2m"
    DPMPP_2M_KARRAS = "dpmpp_2m_karras"
    DDIM = "ddim"
    LCM = "lcm"  # for LCM-distilled models and LCM LoRAs (4-8 steps, guidance 1-2)
    TCD = "tcd"  # for TCD / Hyper-SD LoRAs (4-8 steps, guidance 1-2)


# name -> (diffusers class name, options passed to from_config)
_SCHEDULERS: dict[SchedulerName, tuple[str, dict]] = {
    SchedulerName.EULER: ("EulerDiscreteScheduler", {}),
    SchedulerName.EULER_A: ("EulerAncestralDiscreteScheduler", {}),
    SchedulerName.DPMPP_2M: ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    SchedulerName.DPMPP_2M_KARRAS: (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "solver_order": 2, "use_karras_sigmas": True},
    ),
    SchedulerName.DDIM: ("DDIMScheduler", {}),
    SchedulerName.LCM: ("LCMScheduler", {}),
    SchedulerName.TCD: ("TCDScheduler", {}),
}


def parse_scheduler(text: str | None) -> SchedulerName:
    """`SchedulerName` for a setting or request value; raises ValueError naming the choices."""
    value = (text or "default").strip().lower()
    try:
        return SchedulerName(value)
    except ValueError:
        choices = ", ".join(name.value for name in SchedulerName)
        raise ValueError(f"scheduler {value!r} is not one of {choices}") from None


def build_scheduler(name: str, base_config):
    """A fresh scheduler `name` configured from the model's scheduler config (`pipe.scheduler.config`)."""
    import diffusers

    chosen = parse_scheduler(name)
    if chosen is SchedulerName.DEFAULT:
        raise ValueError("the default scheduler is the pipeline's own; nothing to build")
    class_name, options = _SCHEDULERS[chosen]
    # Options the model's config set for another sampler (e.g. PNDM's skip_prk_steps) are ignored by from_config.
    return getattr(diffusers, class_name).from_config(base_config, **options)


@contextmanager
def use_scheduler(pipe, name: str) -> Iterator[None]:
    """Run the pipeline calls inside with scheduler `name`, then put the model's own back.

    A fresh scheduler per call: schedulers keep per-run state (timesteps, step index, multistep history), and
    building one from a config costs well under a millisecond.
    """
    if parse_scheduler(name) is SchedulerName.DEFAULT:
        yield
        return
    own = pipe.scheduler
    pipe.scheduler = build_scheduler(name, own.config)
    try:
        yield
    finally:
        pipe.scheduler = own


def with_scheduler(request, default: str):
    """`request` with its `default` scheduler replaced by the service's `SCHEDULER` setting, so the picture's
    report names the sampler that really drew it."""
    import dataclasses

    if parse_scheduler(request.scheduler) is not SchedulerName.DEFAULT or parse_scheduler(default) is (
        SchedulerName.DEFAULT
    ):
        return request
    return dataclasses.replace(request, scheduler=parse_scheduler(default).value)
