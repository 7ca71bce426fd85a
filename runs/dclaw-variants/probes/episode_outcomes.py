"""The task's success and score on every real episode a run collected, binned by samples.

Runs log `train_success` and `train_score` (the collected episodes, judged by the task's own
functions) since 2026-11-23; this recomputes them from the saved data (`RUN/data/iter_*.npz`,
every transition the run collected) for runs recorded before that, with the same functions.
On DClaw-Turn the score is the valve's distance from the target at the last step (rad), which
shows progress long before the 0.1 rad success threshold is met.

    .venv/bin/python runs/dclaw-variants/probes/episode_outcomes.py runs/out/robel/dclaw-turn-mal-s0 --bin 5000
"""
from __future__ import annotations

import argparse
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg.core.buffers import Trajectory  # noqa: E402
from stackelberg.worlds.collect import judge_episodes  # noqa: E402


def load_episodes(data_file: Path) -> list[Trajectory]:
    """The whole episodes saved for one iteration (the recorder concatenates them)."""
    z = np.load(data_file)
    ends = np.cumsum(z["lengths"])
    cut = lambda key: [torch.as_tensor(part) for part in np.split(z[key], ends[:-1])]
    return [Trajectory(obs=o, act=a, next_obs=n, reward=r, terminated=bool(t))
            for o, a, n, r, t in zip(cut("obs"), cut("act"), cut("next_obs"), cut("reward"),
                                     z["terminated"])]


def saved_runs(description: str, default_bin: int) -> tuple[argparse.Namespace, list[tuple[Path, str, list[Path]]]]:
    """The command line shared by the scripts that read runs' saved data: run folders and a bin
    width; each run as (folder, task name, its data files in order), or a usage error."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (config.toml, data/)")
    parser.add_argument("--bin", type=int, default=default_bin, help=f"samples per row (default {default_bin})")
    args = parser.parse_args()
    runs = []
    for run in args.runs:
        files = sorted((run / "data").glob("iter_*.npz"))
        if not (run / "config.toml").exists() or not files:
            parser.error(f"{run} is not a run folder with saved data (config.toml, data/iter_*.npz)")
        runs.append((run, tomllib.loads((run / "config.toml").read_text())["run"]["task"], files))
    return args, runs


def main() -> None:
    args, runs = saved_runs(__doc__.split("\n\n")[0], 5000)
    for run, task_name, files in runs:
        task = tasks.make(task_name)
        bins: dict[int, list[np.ndarray]] = {}
        samples = 0
        for f in files:
            episodes = load_episodes(f)
            success, score = judge_episodes(task, episodes)
            # binned by the samples the run had before collecting them
            rows = bins.setdefault(samples // args.bin * args.bin, [np.empty(0), np.empty(0)])
            samples += sum(len(t) for t in episodes)
            rows[0], rows[1] = np.append(rows[0], success), np.append(rows[1], score)
        print(f"\n{run} ({task.name}; score = {task.score_name})\n")
        print("| samples from | episodes | success rate | score: mean | 25% | median | 75% |")
        print("|---|---|---|---|---|---|---|")
        for start, (success, score) in sorted(bins.items()):
            q = np.percentile(score, [25, 50, 75])
            print(f"| {start:,} | {len(score)} | {np.mean(success):.2f} | {np.mean(score):.2f} | "
                  f"{q[0]:.2f} | {q[1]:.2f} | {q[2]:.2f} |")


if __name__ == "__main__":
    main()
