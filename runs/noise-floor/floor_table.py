"""Does PAL stall at the policy's noise floor? Per seed: the best 10k-sample bin of the metric and
the bin at the last sample count every run reached, for the default floor and each higher one; with
--plot, the metric (trailing mean) above the policy's log-std, per floor, each seed a line.

    .venv/bin/python runs/noise-floor/floor_table.py dclaw   [--plot runs/noise-floor/figures/dclaw.png]
    .venv/bin/python runs/noise-floor/floor_table.py ant     [--plot runs/noise-floor/figures/ant.png]

Read-only: it reads the committed records (metrics.csv, config.toml) and prints a Markdown table.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from stackelberg.config import load_saved_config
from stackelberg.core.bins import bin_means

RUNS = Path(__file__).resolve().parents[1]
HERE = RUNS / "noise-floor" / "records"
# (label, record folders); the default floor's records are the studies that first ran it
STUDIES = {
    "dclaw": dict(metric="eval_success", width=10_000, groups=[
        ("-2.5 (default)", sorted((RUNS / "fig2-robel/records/robel-fig2").glob("dclaw-turn-pal-s?"))),
        ("-1.5", sorted((HERE / "dclaw-floor-1.5").glob("dclaw-turn-pal-s?"))),
        ("-1.0", sorted((HERE / "dclaw-floor-1.0").glob("dclaw-turn-pal-s?"))),
    ]),
    "ant": dict(metric="eval_return", width=10_000, groups=[
        ("-2.5 (default)", sorted((RUNS / "gym/records/ant-issue29").glob("ant-pal-s?"))),
        ("-1.5", sorted((HERE / "ant-floor-1.5").glob("ant-pal-s?"))),
        ("-1.0", sorted((HERE / "ant-floor-1.0").glob("ant-pal-s?"))),
    ]),
}


def read(folder: Path, metric: str) -> dict[str, np.ndarray]:
    with open(folder / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    column = {key: np.array([float(r[key]) for r in rows]) for key in ("samples", metric, "policy_log_std")}
    return column


def floor_of(folder: Path) -> float:
    """The run's floor, read through the library (older records keep it in `[policy]`)."""
    return float(load_saved_config(folder / "config.toml").npg.min_log_std)


def trailing_mean(samples: np.ndarray, values: np.ndarray, window: float) -> np.ndarray:
    return np.array([values[(samples > s - window) & (samples <= s)].mean() for s in samples])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=sorted(STUDIES))
    parser.add_argument("--plot", help="PNG path: the metric above the policy's log-std")
    args = parser.parse_args(argv)
    study = STUDIES[args.study]
    metric, width = study["metric"], study["width"]
    groups = [(label, [(f, read(f, metric)) for f in folders]) for label, folders in study["groups"] if folders]
    # the last bin filled by every run that has filled one (a run shorter than a bin shows "-")
    last_common = min(float(c["samples"][-1]) for _, runs in groups for _, c in runs
                      if c["samples"][-1] >= 2 * width)
    common_bin = int(last_common // width) * width - width
    number = "{:.3g}" if metric == "eval_success" else "{:,.0f}"
    print(f"| floor (`policy.min_log_std`) | seed | samples | best {width // 1000}k bin of {metric} up to {common_bin // 1000}k+ "
          f"| {common_bin // 1000}k+ bin | log-std at the end |")
    print("|---|---|---|---|---|---|")
    for label, runs in groups:
        for folder, c in runs:
            bins = bin_means(c["samples"], c[metric], width)
            full = {k: v for k, v in bins.items() if k + width <= c["samples"][-1]}
            # the best bin up to the last common one, so longer runs are not favoured
            upto = {k: v for k, v in full.items() if k <= common_bin}
            best = max(upto.items(), key=lambda kv: kv[1]) if upto else None
            best_text = f"{number.format(best[1])} at {best[0] // 1000}k+" if best else "-"
            common = number.format(full[common_bin]) if common_bin in full else "-"
            print(f"| {floor_of(folder)} | {folder.name[-2:]} | {int(c['samples'][-1]):,} "
                  f"| {best_text} | {common} | {c['policy_log_std'][-1]:.2f} |")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        for k, (label, runs) in enumerate(groups):
            color = f"C{k}"
            for i, (_, c) in enumerate(runs):
                name = f"floor {label}" if i == 0 else None
                top.plot(c["samples"], trailing_mean(c["samples"], c[metric], 5000), color=color, lw=1, label=name)
                bottom.plot(c["samples"], c["policy_log_std"], color=color, lw=1)
        top.set_ylabel(f"{metric.replace('_', ' ')} (trailing 5k mean)")
        bottom.set_ylabel("policy log-std (mean over actions)")
        bottom.set_xlabel("environment samples")
        top.legend(fontsize=8)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
        fig.suptitle(f"{args.study}: PAL with the default log-std floor and higher ones, each seed a line")
        fig.tight_layout()
        Path(args.plot).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.plot, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
