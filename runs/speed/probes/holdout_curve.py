"""How far does one PAL model fit get, epoch by epoch, on held-out trajectories? (the early stop
of `model.holdout_fraction`: does the 1% rule stop a warm-started fit while it still improves?)

Loads the model of snapshot ITERATION of RUN (a PAL run: the model as the next fit finds it,
warm), rebuilds the buffer that fit saw (the last B real transitions, whole trajectories, data
files 0..ITERATION+1), and fits it for `--epochs` epochs with patience = epochs, printing the
held-out loss (mean over members) after each epoch, relative to the first.

    .venv/bin/python runs/speed/probes/holdout_curve.py runs/out/issue33/dkitty-orient-pal-s0 40
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg.cli.diagnose import load_config  # noqa: E402
from stackelberg.core.buffers import ReplayBuffer, Trajectory  # noqa: E402
from stackelberg.core.registry import build_players  # noqa: E402
from stackelberg.core.run_folder import RunFolder, load_checkpoint  # noqa: E402


def trajectories(run: Path, iterations: range) -> list[Trajectory]:
    out = []
    for k in iterations:
        d = np.load(RunFolder(run).data_file(k))
        start = 0
        for length, terminated in zip(d["lengths"], d["terminated"]):
            part = {key: torch.as_tensor(d[key][start:start + length]) for key in ("obs", "act", "next_obs", "reward")}
            out.append(Trajectory(**part, terminated=bool(terminated)))
            start += length
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("iteration", type=int)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    config = load_config(args.run)
    config.model = replace(config.model, holdout_fraction=config.model.holdout_fraction or 0.2,
                           holdout_patience=args.epochs)
    task = tasks.make(config.run.task)
    _, model = build_players(config, task, "cpu")
    state = load_checkpoint(RunFolder(args.run).snapshot_file(args.iteration))
    model.load_state_dict(state["model"])
    buffer = ReplayBuffer(capacity=config.schedule.buffer_capacity)
    for t in trajectories(args.run, range(0, args.iteration + 2)):
        buffer.add(t)
    report = model.fit(buffer, epochs=args.epochs, min_steps=0, max_steps=10**7)
    curve = torch.stack(model.holdout_curve).mean(1)
    first = curve[0].item()
    print(f"{args.run} snapshot {args.iteration}: {len(buffer)} transitions, {report.steps} steps")
    print("epoch  held-out  vs epoch 1  step vs previous")
    for e, v in enumerate(curve.tolist(), 1):
        prev = curve[e - 2].item() if e > 1 else float("nan")
        print(f"{e:5d}  {v:.4f}  {v / first - 1:+8.1%}  {v / prev - 1:+8.2%}")


if __name__ == "__main__":
    main()
