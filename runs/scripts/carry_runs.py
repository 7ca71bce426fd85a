"""Carry unfinished runs to the next machine through git: `--resume` needs a run's folder
(checkpoint.pt, data/, config.toml, metrics.csv), and runs/out/ is git-ignored and lost when a
session starts on a fresh machine.

`save` copies what a resume needs into runs/carry/ (the same layout below runs/out/). The
checkpoint's replay buffer is a copy of the newest transitions in data/, so it is left out of the
carried checkpoint, with its trajectory count and a SHA-256 of its contents; data/ files never
change once written, so git stores each one once however many sessions carry the run. `restore`
puts the folders back under runs/out/, rebuilds the replay from data/ and refuses if the rebuilt
buffer's hash differs, so a restored run resumes exactly as the original would have.

    .venv/bin/python runs/scripts/carry_runs.py save runs/out/i29/ant/ant-pal-s0 ...
    .venv/bin/python runs/scripts/carry_runs.py restore            # every carried run
    .venv/bin/python runs/scripts/carry_runs.py drop runs/carry/i29/ant/ant-pal-s0   # once finished

Snapshots, checkpoint_prev.pt and figures are not carried: a resume does not need them. A run
whose carried checkpoint is over 5 MB (e.g. PAL on Ant: the ensemble and its Adam state) is
refused: git keeps no file that big, so such a run has to finish on one machine.
"""
from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

RUNS = Path(__file__).resolve().parents[1]  # runs/
OUT, CARRY = RUNS / "out", RUNS / "carry"
FILES = ("config.toml", "metrics.csv", "policy_best.pt")
STRIPPED = "carried_replay"  # checkpoint key: what was left out of the replay
MAX_BYTES = 5 * 1024 * 1024  # per carried file


def replay_digest(trajectories: list[dict]) -> str:
    """SHA-256 over every trajectory's arrays, in buffer order."""
    digest = hashlib.sha256()
    for t in trajectories:
        for key in ("obs", "act", "next_obs", "reward", "terminated"):
            array = np.ascontiguousarray(torch.as_tensor(t[key]).numpy())
            digest.update(f"{key}{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def data_files(folder: Path, iterations: int) -> list[Path]:
    """The data/ files of a checkpoint's iterations (later ones a resume writes again)."""
    return [folder / "data" / f"iter_{i:04d}.npz" for i in range(iterations)]


def trajectories_from_data(folder: Path, iterations: int) -> list[dict]:
    """Every trajectory the checkpoint's iterations collected, in the order collected."""
    trajectories = []
    for path in data_files(folder, iterations):
        with np.load(path) as f:
            starts = np.concatenate([[0], np.cumsum(f["lengths"])])
            for i, done in enumerate(f["terminated"]):
                part = slice(starts[i], starts[i + 1])
                trajectories.append({key: torch.from_numpy(np.array(f[key][part]))
                                     for key in ("obs", "act", "next_obs", "reward")}
                                    | {"terminated": torch.tensor(bool(done))})
    return trajectories


def save(run: Path) -> Path:
    run = run.resolve()
    dest = CARRY / run.relative_to(OUT)
    state = torch.load(run / "checkpoint.pt", weights_only=False)
    trajectories = state["replay"]["trajectories"]
    state[STRIPPED] = {"count": len(trajectories), "sha256": replay_digest(trajectories)}
    state["replay"] = {**state["replay"], "trajectories": []}
    (dest / "data").mkdir(parents=True, exist_ok=True)
    torch.save(state, dest / "checkpoint.pt")
    sizes = {p.name: p.stat().st_size
             for p in [dest / "checkpoint.pt", *(run / n for n in FILES if (run / n).exists())]}
    too_big = {name: size for name, size in sizes.items() if size > MAX_BYTES}
    if too_big:
        shutil.rmtree(dest)
        name, size = next(iter(too_big.items()))
        sys.exit(f"{run}: {name} is {size / 2**20:.1f} MB, over the 5 MB a file in git may "
                 f"have; finish this run on one machine")
    for path in data_files(run, int(state["iteration"])):
        if not (dest / "data" / path.name).exists():
            shutil.copy2(path, dest / "data" / path.name)
    for name in FILES:
        if (run / name).exists():
            shutil.copy2(run / name, dest / name)
    print(f"{run} -> {dest}: {state['samples']} samples, replay of {len(trajectories)} "
          f"trajectories left to data/")
    return dest


def restore(carried: Path) -> Path:
    carried = carried.resolve()
    run = OUT / carried.relative_to(CARRY)
    state = torch.load(carried / "checkpoint.pt", weights_only=False)
    stripped = state.pop(STRIPPED)
    everything = trajectories_from_data(carried, int(state["iteration"]))
    replay = everything[len(everything) - stripped["count"]:] if stripped["count"] else []
    if replay_digest(replay) != stripped["sha256"]:
        sys.exit(f"{carried}: the replay rebuilt from data/ differs from the checkpoint's; "
                 f"not restored")
    state["replay"] = {**state["replay"], "trajectories": replay}
    if (run / "checkpoint.pt").exists():
        sys.exit(f"{run} already has a checkpoint; not overwritten")
    shutil.copytree(carried, run, dirs_exist_ok=True)
    torch.save(state, run / "checkpoint.pt")
    print(f"{carried} -> {run}: {state['samples']} samples; resume with python -m "
          f"stackelberg.run --resume --out {run}")
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["save", "restore", "drop"])
    parser.add_argument("folders", nargs="*", type=Path)
    args = parser.parse_args()
    if args.action == "save":
        for folder in args.folders:
            save(folder)
    elif args.action == "restore":
        carried = args.folders or sorted(p.parent for p in CARRY.rglob("checkpoint.pt"))
        for folder in carried:
            restore(folder)
    else:
        for folder in args.folders:
            shutil.rmtree(folder)
            print(f"dropped {folder}")


if __name__ == "__main__":
    main()
