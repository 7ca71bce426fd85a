"""`python -m stackelberg.report RUN_FOLDER...`: curves over seeds and a Markdown table.

Runs are grouped by (task, algorithm, policy backend) from each folder's config.toml. Each seed's
curve is interpolated linearly onto a common sample grid inside the range that seed covers; the
band is a 95% Student-t confidence interval of the mean over seeds (scipy).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from scipy import stats

from stackelberg.errors import UserInputError


@dataclass
class RunCurve:
    folder: Path
    task: str
    algo: str
    seed: int
    samples: np.ndarray
    values: np.ndarray
    seconds: np.ndarray

    def first_reaching(self, target: float) -> Optional[int]:
        hits = np.nonzero(self.values >= target)[0]
        return int(self.samples[hits[0]]) if hits.size else None


def load_run(folder: Path, metric: str) -> RunCurve:
    metrics, config = folder / "metrics.csv", folder / "config.toml"
    if not metrics.is_file() or not config.is_file():
        raise UserInputError(f"{folder} is not a run folder (needs metrics.csv and config.toml)")
    rows = list(csv.DictReader(open(metrics)))
    if not rows:
        raise UserInputError(f"{metrics} has no rows yet")
    if metric not in rows[0]:
        raise UserInputError(f"unknown metric {metric!r}; metrics.csv has: {', '.join(rows[0])}")
    run = tomllib.loads(config.read_text())["run"]
    algo = run.get("algo", "?")
    if run.get("policy", "npg") != "npg":  # another policy backend is another method
        algo = f"{algo}+{run['policy']}"
    return RunCurve(folder, run["task"], algo, int(run.get("seed", 0)),
                    np.array([float(r["samples"]) for r in rows]),
                    np.array([float(r[metric]) for r in rows]),
                    np.cumsum([float(r["seconds"]) for r in rows]))


def mean_and_ci(matrix: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean over rows (seeds) and the half-width of its t-interval, ignoring NaN entries."""
    mean = np.nanmean(matrix, axis=0)
    count = np.sum(~np.isnan(matrix), axis=0)
    sem = np.nanstd(matrix, axis=0, ddof=1) / np.sqrt(np.maximum(count, 1)) if matrix.shape[0] > 1 \
        else np.zeros_like(mean)
    scale = np.where(count > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(count - 1, 1)), 0.0)
    return mean, np.nan_to_num(sem * scale)


def on_grid(curves: Sequence[RunCurve], grid: np.ndarray) -> np.ndarray:
    out = np.full((len(curves), grid.size), np.nan)
    for i, c in enumerate(curves):
        inside = (grid >= c.samples[0]) & (grid <= c.samples[-1])
        out[i, inside] = np.interp(grid[inside], c.samples, c.values)
    return out


def group(curves: Sequence[RunCurve]) -> dict[tuple[str, str], list[RunCurve]]:
    groups: dict[tuple[str, str], list[RunCurve]] = defaultdict(list)
    for c in curves:
        groups[(c.task, c.algo)].append(c)
    return dict(sorted(groups.items()))


def plot(groups: dict, metric: str, path: Path, title: str, target: Optional[float],
         x_axis: str = "samples") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for (task, algo), curves in groups.items():
        xs = [c.samples if x_axis == "samples" else c.seconds for c in curves]
        grid = np.linspace(min(x[0] for x in xs), max(x[-1] for x in xs), 200)
        shifted = [RunCurve(c.folder, c.task, c.algo, c.seed, x, c.values, c.seconds)
                   for c, x in zip(curves, xs)]
        mean, ci = mean_and_ci(on_grid(shifted, grid))
        label = f"{algo.upper()} ({len(curves)} seed{'s' if len(curves) > 1 else ''})"
        line, = ax.plot(grid, mean, label=label)
        ax.fill_between(grid, mean - ci, mean + ci, color=line.get_color(), alpha=0.2)
        for c in shifted:
            ax.plot(c.samples, c.values, color=line.get_color(), alpha=0.25, lw=0.8)
    if target is not None:
        ax.axhline(target, color="gray", ls=":", lw=1)
    ax.set_xlabel("environment samples" if x_axis == "samples" else "wall-clock seconds")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(groups: dict, metric: str, target: Optional[float]) -> str:
    head = ["task", "algo", "seeds", "samples (last)", f"final {metric} (mean ± 95% CI)",
            f"best {metric} (mean)"]
    if target is not None:
        head.append(f"samples to reach {target:g} (per seed)")
    head += ["s/iteration (mean)", "s per 1000 samples (mean)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (task, algo), curves in groups.items():
        finals = np.array([c.values[-1] for c in curves])
        mean, ci = mean_and_ci(finals[:, None])
        row = [task, algo, str(len(curves)), ", ".join(str(int(c.samples[-1])) for c in curves),
               f"{mean[0]:.1f} ± {ci[0]:.1f}" if len(curves) > 1 else f"{mean[0]:.1f} (one seed)",
               f"{np.mean([c.values.max() for c in curves]):.1f}"]
        if target is not None:
            hits = [c.first_reaching(target) for c in curves]
            row.append(", ".join("not reached" if h is None else str(h) for h in hits))
        row.append(f"{np.mean([c.seconds[-1] / len(c.values) for c in curves]):.1f}")
        row.append(f"{np.mean([1000 * c.seconds[-1] / c.samples[-1] for c in curves]):.1f}")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stackelberg.report", description=__doc__)
    p.add_argument("folders", nargs="+", help="run folders (each with metrics.csv, config.toml)")
    p.add_argument("--metric", default="eval_return")
    p.add_argument("--target", type=float, help="report the samples each seed needs to reach it")
    p.add_argument("--plot", help="PNG path for the curves")
    p.add_argument("--x", choices=["samples", "seconds"], default="samples")
    p.add_argument("--title", default="")
    args = p.parse_args(argv)
    try:
        curves = [load_run(Path(f), args.metric) for f in args.folders]
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    groups = group(curves)
    if args.plot:
        plot(groups, args.metric, Path(args.plot), args.title, args.target, args.x)
    print(table(groups, args.metric, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
