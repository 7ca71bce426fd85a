"""Does a run's model rank policies the way the real world does, per sign of the DClaw target? (runs/notes/dclaw-investigation.md 7.15)

Variant seed 0 turns the valve only one way while seed 1 turns it both ways (runs/notes/dclaw-investigation.md 7.14). If
seed 0's model scores seed 1's policy *below* its own on the targets it fails, the policy player
is chasing a wrong model (a model problem); if the model ranks them as the world does, the model
already points the right way and the policy player is stuck in a local optimum (an optimization
problem). This measures every given policy (deterministic) on the same real evaluation episodes,
J(pi, W), and from the same start states in the given model, J(pi, M) (mean over its members),
split by the sign of the initial target error obs[20].

    .venv/bin/python runs/dclaw-variants/probes/model_ranking.py \
        --model runs/out/robel-variants/dclaw-turn-pal-ball-e10-s0:220 \
        --policy runs/out/robel-variants/dclaw-turn-pal-ball-e10-s0:220 \
        --policy runs/out/robel-variants/dclaw-turn-pal-ball-e10-s1:210 --episodes 60
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tasks  # noqa: E402
from stackelberg.worlds import collect as world  # noqa: E402
from stackelberg.core.registry import build_players  # noqa: E402
from stackelberg.cli.diagnose import load_config  # noqa: E402
from stackelberg.core.run_folder import load_checkpoint  # noqa: E402
from stackelberg.npg.rollouts import model_rollouts  # noqa: E402
from policy_step_probe import snapshot_arg  # noqa: E402

TARGET_ERROR = 20  # obs index of wrap(target - valve angle)


def load_players(run: Path, iteration: int):
    config = load_config(run)
    if config.run.task != "dclaw-turn":
        sys.exit(f"error: {run} is a {config.run.task} run; the target sign split is dclaw-turn's")
    task = tasks.make(config.run.task)
    policy, model = build_players(config, task, "cpu")
    snapshot = load_checkpoint(run / "snapshots" / f"iter_{iteration:04d}.pt")
    policy.load_state_dict(snapshot["policy"])
    model.load_state_dict(snapshot["model"])
    return task, policy, model, snapshot["samples"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=snapshot_arg, required=True, help="RUN:ITERATION of the model")
    parser.add_argument("--policy", type=snapshot_arg, action="append", required=True,
                        help="RUN:ITERATION of a policy to rank (repeatable)")
    parser.add_argument("--episodes", type=int, default=60)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    torch.set_num_threads(1)

    task, _, model, model_samples = load_players(*args.model)
    print(f"model: {args.model[0]} iteration {args.model[1]} ({model_samples} samples); "
          f"{args.episodes} real episodes, seed {args.seed}\n")
    print("| policy | samples | target error sign | episodes | J(pi, M) | J(pi, W) | success |")
    print("|---|---:|---|---:|---:|---:|---:|")
    first_starts = None
    for run, iteration in args.policy:
        _, policy, _, samples = load_players(run, iteration)
        act = lambda obs: policy.act(obs, deterministic=True)  # noqa: E731
        env = task.make_env(args.seed)
        env.reset(seed=args.seed)
        trajs = [world.run_episode(env, act, task) for _ in range(args.episodes)]
        starts = torch.stack([t.obs[0] for t in trajs])
        if first_starts is None:
            first_starts = starts
        elif not torch.equal(starts, first_starts):
            sys.exit("error: the evaluation episodes started from different states for different "
                     "policies, so their returns are not comparable")
        real_return = torch.tensor([t.reward.sum().item() for t in trajs])
        success = torch.as_tensor(world.judge_episodes(task, trajs)[0])
        paths = model_rollouts(model.step, act, task, starts, model.ensemble_size, task.horizon, None)
        model_return = paths.returns().reshape(model.ensemble_size, len(starts)).mean(0)
        for name, rows in (("> 0", starts[:, TARGET_ERROR] > 0), ("< 0", starts[:, TARGET_ERROR] < 0)):
            print(f"| {run.name}:{iteration} | {samples} | {name} | {int(rows.sum())} | "
                  f"{model_return[rows].mean():.0f} | {real_return[rows].mean():.0f} | "
                  f"{success[rows].mean():.2f} |")


if __name__ == "__main__":
    main()
