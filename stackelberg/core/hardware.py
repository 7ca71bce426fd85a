"""What the machine offers that changes how a run computes (no config, no torch import)."""
from __future__ import annotations

import functools
from pathlib import Path


@functools.lru_cache(maxsize=1)
def cpu_has_native_bfloat16() -> bool:
    """True on a CPU whose instruction set computes bfloat16 matmuls natively (AVX512-BF16 or
    AMX, read from Linux's /proc/cpuinfo; elsewhere False): there a bfloat16 model fit is 1.8x
    faster per step, where an emulated one would be slower than float32."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next((line.split(":", 1)[1].split() for line in text.splitlines()
                  if line.startswith("flags")), [])
    return "avx512_bf16" in flags or "amx_bf16" in flags
