"""Ending a run once it has reached a target: `--stop-at eval_success=0.9` ends it after the first
complete bin of evaluations whose mean reaches 0.9 (a budget such as "train SAC on DClaw-Turn until
0.9 mean success in a 10k-sample bin or 400k samples"), instead of spending the rest of the budget.

Bins are those of `python -m stackelberg.report --bins W`: evaluations at samples in
[k W, (k + 1) W), a bin counting once the run has passed its end, missing values skipped.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

import numpy as np

from stackelberg.core.bins import bin_means
from stackelberg.core.errors import UserInputError

STOP_METRICS = ("eval_return", "eval_success")


def parse_stop_at(text: str) -> tuple[str, float]:
    """`METRIC=VALUE` (the `--stop-at` flag) as (metric, value)."""
    metric, sep, value = text.partition("=")
    metric = metric.strip()
    if not sep or metric not in STOP_METRICS:
        raise UserInputError(f"--stop-at {text!r}: give METRIC=VALUE with METRIC one of "
                             f"{', '.join(STOP_METRICS)}, e.g. --stop-at eval_success=0.9")
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise UserInputError(f"--stop-at {text!r}: {value.strip()!r} is not a finite number")
    return metric, number


def target_bin(rows: Iterable[dict], metric: str, value: float, window: int
               ) -> Optional[tuple[int, float]]:
    """(first sample of the bin, its mean) for the first complete `window`-sample bin whose
    mean `metric` is >= `value`; None if no complete bin has reached it yet."""
    rows = list(rows)
    if not rows:
        return None
    samples = np.array([int(row["samples"]) for row in rows])
    values = np.array([_number(row.get(metric)) for row in rows])
    newest = int(samples.max()) // window * window  # the bin still being filled
    for start, mean in sorted(bin_means(samples, values, window).items()):
        if start < newest and mean >= value:
            return start, mean
    return None


def _number(text: object) -> float:
    try:
        return float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
