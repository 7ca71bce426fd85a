"""Process-wide torch settings a run makes before it builds its players (threads, denormal
flushing, seeds): one place, so `run`, the bench and a user's own script play the same game."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from stackelberg.config import RunConfig


def prepare_process(run: "RunConfig") -> None:
    """Threads (0 = leave torch's choice), flush-to-zero of denormal floats, then the torch and
    numpy seeds. Denormals appear once a fit has converged (Adam's moments of the value
    baseline decay below 1e-38 when the pendulum balances) and make each CPU float operation
    on them ~100x slower. Flushing is a numerics change, not a pure speed-up: a run's numbers
    equal the unflushed run's until the first denormal, then differ like another seed's
    (pendulum, 3 seeds: within noise; runs/notes/speed.md)."""
    if run.threads:
        torch.set_num_threads(run.threads)
    torch.set_flush_denormal(run.flush_denormal)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed)


def _cpuinfo_field(name: str) -> str:
    """The first `name : value` of Linux's /proc/cpuinfo ("" elsewhere or when absent)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    return next((line.split(":", 1)[1].strip() for line in text.splitlines()
                 if line.split(":", 1)[0].strip() == name), "")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bfloat16() -> bool:
    """True on a CPU whose instruction set computes bfloat16 matmuls natively (AVX512-BF16 or
    AMX, read from Linux's /proc/cpuinfo; elsewhere False): there a bfloat16 model fit is 1.8x
    faster per step, where an emulated one would be slower than float32."""
    flags = _cpuinfo_field("flags").split()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_model_name() -> str:
    """The CPU's model name (e.g. "AMD EPYC 9B14"), so a timing can say what it was measured on;
    the platform's machine type where /proc/cpuinfo does not say."""
    import platform

    return _cpuinfo_field("model name") or platform.processor() or platform.machine()
