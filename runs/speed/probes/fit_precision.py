"""Does a bfloat16 model fit (`model.fit_precision = "bfloat16"`) predict as well as float32? (runs/notes/dclaw-investigation.md 7.21)

Takes the real transitions a run collected (its checkpoint's replay buffer), holds out a random
set, and fits fresh model players on a random training set of the given size with each
precision, from the same initial weights and with the same mini-batch order (same seed). Prints
the held-out loss (the training loss's normalised-delta MSE, mean over members) and the fit's
wall-clock seconds per gradient step, per seed and precision.

    .venv/bin/python runs/speed/probes/fit_precision.py runs/out/robel-fig2/dclaw-turn-mal-s2 --train 2500 --epochs 100
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg.core.buffers import ReplayBuffer, Trajectory  # noqa: E402
from stackelberg.config import FIT_PRECISIONS  # noqa: E402
from stackelberg.cli.diagnose import load_config  # noqa: E402
from stackelberg.models.deterministic import DynamicsEnsemble  # noqa: E402
from stackelberg.core.run_folder import load_checkpoint  # noqa: E402


def real_transitions(run: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(run / "checkpoint.pt")
    buffer = ReplayBuffer()
    buffer.load_state_dict(state["replay"])
    return buffer.tensors()


def as_buffer(data: dict[str, torch.Tensor], rows: torch.Tensor) -> ReplayBuffer:
    """The chosen transitions as one pseudo-trajectory: fit() only reads the concatenation."""
    buffer = ReplayBuffer()
    buffer.add(Trajectory(*(data[k][rows] for k in ("obs", "act", "next_obs", "reward")), False))
    return buffer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder with checkpoint.pt")
    parser.add_argument("--train", type=int, default=2500, help="training transitions")
    parser.add_argument("--holdout", type=int, default=5000, help="held-out transitions")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = load_config(args.run)
    task = tasks.make(config.run.task)
    data = real_transitions(args.run)
    n = data["obs"].shape[0]
    if args.train + args.holdout > n:
        sys.exit(f"error: {args.run} holds {n} transitions; ask for at most that many in --train + --holdout")
    angle_dims = task.angle_dims if config.model.wrap_angles else ()
    print(f"{args.run}: {config.run.task}, {n} real transitions; train {args.train}, held out "
          f"{args.holdout}, {args.epochs} epochs, {args.threads} thread(s)")
    print("| seed | precision | held-out loss | final train loss | gradient steps | ms per step |")
    print("|---|---|---|---|---|---|")
    results: dict[str, list[tuple[float, float]]] = {p: [] for p in FIT_PRECISIONS}
    for seed in args.seeds:
        rows = torch.randperm(n, generator=torch.Generator().manual_seed(1000 + seed))
        held, train = rows[:args.holdout], rows[args.holdout:args.holdout + args.train]
        for precision in FIT_PRECISIONS:
            model_config = replace(config.model, fit_precision=precision)
            model = DynamicsEnsemble(task.obs_dim, task.act_dim, model_config, seed=seed,
                                     angle_dims=angle_dims)
            start = time.perf_counter()
            report = model.fit(as_buffer(data, train), args.epochs, min_steps=0)
            per_step = (time.perf_counter() - start) / report.steps * 1000
            loss = model.loss(data["obs"][held], data["act"][held], data["next_obs"][held]).mean().item()
            results[precision].append((loss, per_step))
            print(f"| {seed} | {precision} | {loss:.5f} | {report.train_loss:.5f} | {report.steps} | {per_step:.1f} |")
    for precision, values in results.items():
        loss, ms = np.array(values).T
        print(f"{precision}: held-out loss mean {loss.mean():.5f} (min {loss.min():.5f}, max {loss.max():.5f}); "
              f"{ms.mean():.1f} ms per step")


if __name__ == "__main__":
    main()
