"""Which state coordinates make a run's model loss on fresh data high? (issue 29: the pen's
`model_loss_fresh` stays near 0.9; issue 28: DClaw's valve)

Loads the model of snapshot ITERATION of RUN and the real transitions of the iterations after it
(data/iter_*.npz: data the model was not fitted on), and prints the model's per-coordinate error
in its own normalised delta space (the training loss, `DynamicsEnsemble.loss`, split by output
dimension and averaged over members), grouped into the task's named parts. Beside it: the same on
the buffer the model was fitted on (its last `--buffer` samples before the snapshot), and how much
the fresh data's state change varies relative to the training data's (var ratio > 1: the new
policy moves that part in ways the fit never saw).

    .venv/bin/python runs/fig2-robel/probes/model_error_by_part.py runs/out/issue33/pen-pal-n10h-s0 10
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg.cli.diagnose import load_config  # noqa: E402
from stackelberg.core.registry import build_players  # noqa: E402
from stackelberg.core.run_folder import RunFolder, load_checkpoint  # noqa: E402
from stackelberg.models.angles import state_change  # noqa: E402

# AdroitHandPen-v1's 45-dim observation (gymnasium-robotics adroit_pen.py _get_obs)
PARTS = {
    "pen": {"hand joint angles": range(0, 24), "pen position": range(24, 27),
            "pen velocity (lin, ang)": range(27, 33), "pen direction": range(33, 36),
            "goal direction": range(36, 39), "pen - goal position": range(39, 42),
            "pen - goal direction": range(42, 45)},
}
PARTS["pen-noterm"] = PARTS["pen"]
# DClaw-Turn's 30-dim observation (tasks/robel/dclaw.py)
PARTS["dclaw-turn"] = {"claw joint angles": range(0, 9), "valve cos, sin": range(9, 11),
                       "last action": range(11, 20), "target error": range(20, 21),
                       "claw joint velocities": range(21, 30)}
PARTS["dclaw-turn-fixed"] = PARTS["dclaw-turn"]
PARTS["dclaw-turn-vel"] = {**PARTS["dclaw-turn"], "valve velocity": range(30, 31)}


def load_iterations(run: Path, iterations: range) -> dict[str, torch.Tensor]:
    files = [np.load(RunFolder(run).data_file(k)) for k in iterations]
    return {key: torch.as_tensor(np.concatenate([f[key] for f in files]), dtype=torch.float32)
            for key in ("obs", "act", "next_obs")}


def per_dim_loss(model, data: dict[str, torch.Tensor]) -> torch.Tensor:
    """Normalised-delta squared error per output dimension, mean over members and samples."""
    with torch.no_grad():
        obs, act, nxt = data["obs"], data["act"], data["next_obs"]
        pred = model.net(model._inputs(model._expand(obs), model._expand(act)))
        err = (pred - model._targets(obs, nxt)) ** 2 * model.delta_mask
    return err.mean(dim=(0, 1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path)
    p.add_argument("iteration", type=int, help="a snapshot's iteration (its file is snapshots/iter_<4 digits>.pt)")
    p.add_argument("--fresh", type=int, default=1, help="iterations of fresh data after it (1)")
    p.add_argument("--buffer", type=int, default=2500, help="training samples to compare (2500)")
    args = p.parse_args()
    torch.set_num_threads(1)
    config = load_config(args.run)
    task = tasks.make(config.run.task)
    _, model = build_players(config, task, "cpu")
    state = load_checkpoint(RunFolder(args.run).snapshot_file(args.iteration))
    model.load_state_dict(state["model"])
    done = int(state["iteration"]) + 1  # PAL collects, then fits: data 0..k are the fit's
    fresh = load_iterations(args.run, range(done, done + args.fresh))
    seen = load_iterations(args.run, range(0, done))
    seen = {k: v[-args.buffer:] for k, v in seen.items()}
    loss_fresh, loss_seen = per_dim_loss(model, fresh), per_dim_loss(model, seen)
    var_ratio = (state_change(fresh["obs"], fresh["next_obs"], model._wrapped).var(0)
                 / state_change(seen["obs"], seen["next_obs"], model._wrapped).var(0).clamp_min(1e-12))
    d = task.obs_dim
    print(f"{args.run} snapshot {args.iteration} ({state['samples']} samples): fresh = data of "
          f"iterations {done}..{done + args.fresh - 1} ({len(fresh['obs'])} transitions), "
          f"seen = last {len(seen['obs'])} before them")
    print(f"mean over dims: fresh {loss_fresh.mean():.3f}, seen {loss_seen.mean():.4f}")
    print(f"{'part':<26} {'dims':>5} {'share of fresh loss':>20} {'fresh':>8} {'seen':>8} {'var ratio':>10}")
    parts = PARTS.get(task.name, {"all": range(d)})
    for name, idx in parts.items():
        i = list(idx)
        share = loss_fresh[i].sum() / loss_fresh.sum()
        print(f"{name:<26} {len(i):>5} {share:>20.1%} {loss_fresh[i].mean():>8.3f} "
              f"{loss_seen[i].mean():>8.4f} {var_ratio[i].median():>10.2f}")
    worst = torch.argsort(loss_fresh, descending=True)[:8]
    print("worst dims (fresh loss):", ", ".join(f"{int(k)}: {loss_fresh[k]:.2f}" for k in worst))


if __name__ == "__main__":
    main()
