"""Ending a run once it has reached a target: `--stop-at eval_success=0.9` ends it after the first
complete bin of evaluations whose mean reaches 0.9 (issue 28's rule for SAC on DClaw-Turn: "until
0.9 mean success in a 10k-sample bin or 400k samples"), instead of spending the rest of the budget.

Bins are those of `python -m stackelberg.report --bins W`: evaluations at samples in
[k W, (k + 1) W), a bin counting once the run has passed its end, missing values skipped.
"""
from __future__ import annotations

import math
from typing import Iterable, Optional

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
    bins: dict[int, list[float]] = {}
    newest = -1
    for row in rows:
        samples = int(row["samples"])
        newest = max(newest, samples // window)
        try:
            number = float(row.get(metric, math.nan))
        except (TypeError, ValueError):
            number = math.nan
        if not math.isnan(number):
            bins.setdefault(samples // window, []).append(number)
    for index in sorted(bins):
        mean = sum(bins[index]) / len(bins[index])
        if index < newest and mean >= value:
            return index * window, mean
    return None
