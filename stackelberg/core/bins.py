"""Sample bins: the one definition of "the mean of the evaluations in each W-sample bin" that
`report --bins` prints and `run --stop-at` stops on."""
from __future__ import annotations

import numpy as np


def bin_means(samples: np.ndarray, values: np.ndarray, width: float) -> dict[int, float]:
    """Mean of `values` in each `width`-sample bin [k W, (k + 1) W), keyed by the bin's first
    sample; NaN values are skipped, and a bin holding none is NaN."""
    keys = (np.asarray(samples) // width * width).astype(int)
    values = np.asarray(values, dtype=float)
    out = {}
    for key in np.unique(keys):
        kept = values[(keys == key) & ~np.isnan(values)]
        out[int(key)] = float(kept.mean()) if kept.size else float("nan")
    return out
