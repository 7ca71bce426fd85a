"""Copy every run's metrics.csv and config.toml from runs/out/ (git-ignored, lost between
machines) to runs/records/ (committed), keeping the folder layout.

Those two files are all `python -m stackelberg.report` reads, so every table and figure in
RESULTS.md can be rebuilt from git alone: replace `runs/out/` by `runs/records/` in its command.
Checkpoints and data stay in runs/out/ (too large for git; they are only needed to resume).

    .venv/bin/python runs/scripts/keep_records.py            # all runs
    .venv/bin/python runs/scripts/keep_records.py robel mbpo # only runs/out/robel, runs/out/mbpo
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

KEPT = ("metrics.csv", "config.toml")
ROOT = Path(__file__).resolve().parents[1]


def run_folders(source: Path) -> list[Path]:
    return sorted(p.parent for p in source.rglob("metrics.csv") if (p.parent / "config.toml").exists())


def rows(metrics: Path) -> int:
    with metrics.open() as f:
        return sum(1 for _ in f) - 1  # minus the header


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="subfolders of runs/out to keep (default: all)")
    parser.add_argument("--source", type=Path, default=ROOT / "out")
    parser.add_argument("--dest", type=Path, default=ROOT / "records")
    args = parser.parse_args()
    roots = [args.source / g for g in args.groups] or [args.source]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        parser.error(f"no such run group: {', '.join(missing)}")
    copied = 0
    for root in roots:
        for run in run_folders(root):
            target = args.dest / run.relative_to(args.source)
            kept = target / "metrics.csv"
            if kept.exists() and rows(kept) > rows(run / "metrics.csv"):
                # a restarted run (runs/out does not survive a new machine) must not erase the
                # longer record of an earlier one: keep that and say so
                print(f"skipped {run}: {kept} holds {rows(kept)} iterations, the run only "
                      f"{rows(run / 'metrics.csv')}; move the record aside to replace it")
                continue
            target.mkdir(parents=True, exist_ok=True)
            for name in KEPT:
                shutil.copy2(run / name, target / name)
            copied += 1
    print(f"kept {copied} runs in {args.dest}")


if __name__ == "__main__":
    main()
