"""Copy every run's metrics.csv and config.toml from runs/out/ (git-ignored, lost between
machines) into the records/ folder of its study (committed), keeping the layout below runs/out/:
runs/out/GROUP/RUN becomes runs/STUDY/records/GROUP/RUN.

Those two files are all `python -m stackelberg.report` reads, so every table and figure in
RESULTS.md can be rebuilt from git alone: replace `runs/out/` by `runs/STUDY/records/` in its
command. Checkpoints and data stay in runs/out/ (too large for git; they are only needed to resume).

The study of a run is found from what is committed: the study whose records/ already holds that
run (runs/*/records/GROUP/RUN), else the one study whose records/ holds its GROUP. A run of a new
group needs `--dest runs/STUDY/records`.

    .venv/bin/python runs/scripts/keep_records.py                   # all runs of known groups
    .venv/bin/python runs/scripts/keep_records.py robel-fig2 mbpo   # only runs/out/robel-fig2, runs/out/mbpo
    .venv/bin/python runs/scripts/keep_records.py issue28 --dest runs/issue28/records   # a new group
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path
from typing import Optional

KEPT = ("metrics.csv", "config.toml")
ROOT = Path(__file__).resolve().parents[1]  # runs/


def run_folders(source: Path) -> list[Path]:
    return sorted(p.parent for p in source.rglob("metrics.csv") if (p.parent / "config.toml").exists())


def without_out_path(config_toml: str) -> str:
    """The config without `out = ...`: where a run was written on the machine it ran on is not
    part of the record (the record's own folder says where it is now), and older runs wrote an
    absolute path there."""
    return "".join(line for line in config_toml.splitlines(keepends=True)
                   if not re.match(r"\s*out\s*=", line))


def rows(metrics: Path) -> int:
    with metrics.open() as f:
        return sum(1 for _ in f) - 1  # minus the header


def study_records(root: Path, relative: Path) -> Optional[Path]:
    """The records/ folder of the study that holds `relative` (GROUP/RUN) or else its GROUP."""
    holders = [r for r in sorted(root.glob("*/records")) if (r / relative).is_dir()]
    if len(holders) == 1:
        return holders[0]
    groups = [r for r in sorted(root.glob("*/records")) if (r / relative.parts[0]).is_dir()]
    return groups[0] if len(groups) == 1 else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help="subfolders of runs/out to keep (default: all)")
    parser.add_argument("--source", type=Path, default=ROOT / "out")
    parser.add_argument("--dest", type=Path, default=None,
                        help="records/ folder of the study (default: found from the committed records)")
    args = parser.parse_args()
    roots = [args.source / g for g in args.groups] or [args.source]
    missing = [str(r) for r in roots if not r.is_dir()]
    if missing:
        parser.error(f"no such run group: {', '.join(missing)}")
    copied = 0
    unplaced: set[str] = set()
    for root in roots:
        for run in run_folders(root):
            relative = run.relative_to(args.source)
            dest = args.dest if args.dest is not None else study_records(ROOT, relative)
            if dest is None:
                unplaced.add(relative.parts[0])
                continue
            target = dest / relative
            kept = target / "metrics.csv"
            if kept.exists() and rows(kept) > rows(run / "metrics.csv"):
                # a restarted run (runs/out does not survive a new machine) must not erase the
                # longer record of an earlier one: keep that and say so
                print(f"skipped {run}: {kept} holds {rows(kept)} iterations, the run only "
                      f"{rows(run / 'metrics.csv')}; move the record aside to replace it")
                continue
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(run / "metrics.csv", target / "metrics.csv")
            (target / "config.toml").write_text(without_out_path((run / "config.toml").read_text()))
            print(f"kept {run} -> {target}")
            copied += 1
    for group in sorted(unplaced):
        print(f"skipped {args.source / group}: no study's records/ holds this group; name one with "
              f"--dest runs/STUDY/records", file=sys.stderr)
    print(f"kept {copied} runs")


if __name__ == "__main__":
    main()
