"""How far, and which way, a DClaw-Turn run turns the valve in each real episode (runs/notes/dclaw-investigation.md 7.8).

A plateau of the final error can mean the policy turns the wrong way for one sign of the target,
or the right way too slowly. This splits them: for every collected episode, the valve's travel
towards the target over the 40 steps (the summed, wrapped change of the target error obs[20],
negated so that positive = towards the target), by the sign of the initial error.

    .venv/bin/python runs/dclaw-variants/probes/valve_travel.py runs/out/robel-fig2/dclaw-turn-pal-s0 --bin 10000
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from episode_outcomes import load_episodes, saved_runs  # noqa: E402

TARGET_ERROR = 20  # obs index of wrap(target - valve angle)


def travel_towards_target(obs: np.ndarray, next_obs: np.ndarray) -> float:
    step = np.angle(np.exp(1j * (next_obs[:, TARGET_ERROR] - obs[:, TARGET_ERROR])))
    return float(-step.sum() * np.sign(obs[0, TARGET_ERROR]))


def main() -> None:
    args, runs = saved_runs(__doc__.split("\n\n")[0], 10000)
    for run, task, files in runs:
        if task != "dclaw-turn":
            print(f"error: {run} is a {task} run; the valve is dclaw-turn's", file=sys.stderr)
            sys.exit(2)
        bins: dict[int, list[tuple[float, float]]] = {}
        samples = 0
        for f in files:
            episodes = load_episodes(f)
            rows = bins.setdefault(samples // args.bin * args.bin, [])
            samples += sum(len(t) for t in episodes)
            for t in episodes:
                obs, nxt = t.obs.numpy(), t.next_obs.numpy()
                rows.append((obs[0, TARGET_ERROR], travel_towards_target(obs, nxt)))
        print(f"\n{run}\n")
        print("| samples from | episodes | required turn, median (rad) | travel towards the target, "
              "median: error > 0 | error < 0 | episodes turned the wrong way |")
        print("|---|---|---|---|---|---|")
        for start, rows in sorted(bins.items()):
            error, travel = np.array(rows).T
            print(f"| {start:,} | {len(rows)} | {np.median(abs(error)):.2f} | "
                  f"{np.median(travel[error > 0]):.2f} | {np.median(travel[error < 0]):.2f} | "
                  f"{np.mean(travel < 0):.2f} |")


if __name__ == "__main__":
    main()
