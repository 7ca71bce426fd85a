"""Process-wide torch settings a run makes before it builds its players (threads, denormal
flushing, seeds): one place, so `run`, the bench and a user's own script play the same game."""
from __future__ import annotations

import numpy as np
import torch


def prepare_process(threads: int, flush_denormal: bool, seed: int) -> None:
    """Threads (0 = leave torch's choice), flush-to-zero of denormal floats, then the torch and
    numpy seeds. Denormals appear once a fit has converged (Adam's moments of the value
    baseline decay below 1e-38 when the pendulum balances) and make each CPU float operation
    on them ~100x slower. Flushing is a numerics change, not a pure speed-up: a run's numbers
    equal the unflushed run's until the first denormal, then differ like another seed's
    (pendulum, 3 seeds: within noise; runs/notes/speed.md)."""
    if threads:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(flush_denormal)
    torch.manual_seed(seed)
    np.random.seed(seed)
