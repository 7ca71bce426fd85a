"""One-step model error on DClaw-Turn data with and without wrapped-angle learning (runs/notes/dclaw-investigation.md 7.2).

Counts the transitions whose target error jumps by 2*pi, scores the run's own last model on its
last iteration, then fits the paper's 4 x MLP(512, 512) ensemble on iterations 85-107 of the PAL run made before
`model.wrap_angles` existed and scores it on iterations 108-111: mean absolute error of the
predicted target error and of the other coordinates, and the bias of the reward the model implies.

    .venv/bin/python runs/dclaw-variants/probes/wrap_check.py [RUN_FOLDER]
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch

from stackelberg import tasks
from stackelberg.models.angles import angle_mask, state_change
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.core.run_folder import load_checkpoint

RUN = Path(sys.argv[1] if len(sys.argv) > 1 else "runs/out/robel-nowrap/dclaw-turn-pal-s0")
TARGET_ERROR = 20


def load(files: list[Path]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    parts = [np.load(f) for f in files]
    return tuple(torch.tensor(np.concatenate([p[k] for p in parts]), dtype=torch.float32)
                 for k in ("obs", "act", "next_obs"))


def as_buffer(obs: torch.Tensor, act: torch.Tensor, nxt: torch.Tensor, horizon: int) -> ReplayBuffer:
    buffer = ReplayBuffer()
    for i in range(0, len(obs), horizon):
        rows = slice(i, i + horizon)
        buffer.add(Trajectory(obs[rows], act[rows], nxt[rows], torch.zeros(len(obs[rows])), False))
    return buffer


def main() -> None:
    torch.set_num_threads(1)
    task = tasks.make("dclaw-turn")
    files = sorted((RUN / "data").glob("iter_*.npz"))
    every = load(files)
    jumps = int(((every[2][:, TARGET_ERROR] - every[0][:, TARGET_ERROR]).abs() > np.pi).sum())
    print(f"transitions whose target error jumps by 2*pi: {jumps} of {len(every[0])}")
    wrapped = angle_mask(task.obs_dim, [TARGET_ERROR])
    own = DynamicsEnsemble(task.obs_dim, task.act_dim)
    own.load_state_dict(load_checkpoint(RUN / "checkpoint.pt")["model"])
    obs, act, nxt = load(files[-1:])
    pred = own.step(obs, act)
    error = state_change(nxt.expand_as(pred), pred, wrapped).abs().mean((0, 1))
    near = obs[:, TARGET_ERROR].abs() > 2.8
    bias = task.reward_fn(obs, act, pred).mean(0) - task.reward_fn(obs, act, nxt)
    print(f"the run's last model on its last iteration: target_error MAE {error[TARGET_ERROR]:.2f} rad, "
          f"joint angles MAE {error[:9].min():.2f}-{error[:9].max():.2f}; reward (model - world) "
          f"{bias[near].mean():+.1f} per step where |target error| > 2.8 ({near.float().mean():.0%} of it)")
    train, (obs, act, nxt) = load(files[85:108]), load(files[108:])
    print(f"train {len(train[0])} transitions, test {len(obs)}")
    for dims in [(), (TARGET_ERROR,)]:
        model = DynamicsEnsemble(task.obs_dim, task.act_dim, seed=0, angle_dims=dims)
        model.fit(as_buffer(*train, task.horizon), epochs=100)
        pred = model.step(obs, act)
        error = state_change(nxt.expand_as(pred), pred, wrapped).abs().mean((0, 1))
        bias = task.reward_fn(obs, act, pred).mean(0) - task.reward_fn(obs, act, nxt)
        print(f"angle_dims={dims}: target_error MAE {error[TARGET_ERROR]:.3f} rad, other coordinates "
              f"MAE {error[:TARGET_ERROR].mean():.4f}, reward (model - world) mean {bias.mean():+.2f}, "
              f"MAE {bias.abs().mean():.2f}")


if __name__ == "__main__":
    main()
