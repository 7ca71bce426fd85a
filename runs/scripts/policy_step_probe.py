"""Is a run's policy player held back by its step count or by its model? (RESULTS 7.8)

Loads a run's snapshot (policy, value function and model ensemble at one iteration), then keeps
taking NPG steps on that *frozen* model, as a more aggressive policy player would, and after
each block of steps measures the policy twice: J(pi, M), its return predicted by the model, and
J(pi, W), its return, success rate and score in the real world (deterministic policy, the same
evaluation episodes every time). If J(pi, W) climbs with the extra steps, the run's conservative
policy step is the bottleneck; if only J(pi, M) climbs, the model is. Model rollouts start from
the run's initial-state buffer only (as DClaw and DKitty runs do: start fraction 0).

    .venv/bin/python runs/scripts/policy_step_probe.py runs/out/robel-fig2/dclaw-turn-pal-s0 \
        --snapshot 80 --steps 0,4,10,25,50 --episodes 20
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg import world  # noqa: E402
from stackelberg.buffers import InitialStateBuffer, ReplayBuffer  # noqa: E402
from stackelberg.build import build_players  # noqa: E402
from stackelberg.diagnose import load_config  # noqa: E402
from stackelberg.rollouts import model_rollouts  # noqa: E402


def initial_states(run: Path, up_to_iteration: int) -> InitialStateBuffer:
    """The first observation of every real episode the run had collected by then."""
    buffer = InitialStateBuffer()
    for f in sorted((run / "data").glob("iter_*.npz")):
        if int(f.stem.split("_")[1]) > up_to_iteration:
            break
        z = np.load(f)
        for i in np.r_[0, np.cumsum(z["lengths"])[:-1]]:
            buffer.add(torch.as_tensor(z["obs"][i], dtype=torch.float32))
    return buffer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--snapshot", type=int, required=True, help="iteration of snapshots/iter_NNNN.pt")
    parser.add_argument("--steps", default="0,4,10,25,50", help="cumulative NPG step counts to measure at")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    config = load_config(args.run)
    task = tasks.make(config.run.task)
    policy, model = build_players(config, task, "cpu")
    snapshot = torch.load(args.run / "snapshots" / f"iter_{args.snapshot:04d}.pt", weights_only=False)
    policy.load_state_dict(snapshot["policy"])
    model.load_state_dict(snapshot["model"])
    starts = initial_states(args.run, args.snapshot)
    act = lambda obs: policy.act(obs, deterministic=True)  # noqa: E731

    print(f"{args.run} snapshot {args.snapshot} ({snapshot['samples']} samples), "
          f"{len(starts)} start states, {args.episodes} evaluation episodes")
    print("| NPG steps on the frozen model | J(pi, M) | J(pi, W) | success | score | log-std |")
    print("|---:|---:|---:|---:|---:|---:|")
    done = 0
    for target in sorted(int(s) for s in args.steps.split(",")):
        if target > done:
            policy.improve(model, ReplayBuffer(), starts, target - done)
            done = target
        env = task.make_env(args.seed)
        env.reset(seed=args.seed)
        real = world.evaluate(env, act, task, args.episodes)
        paths = model_rollouts(model.step, act, task, real.start_states, model.ensemble_size,
                               task.horizon, None)
        print(f"| {done} | {paths.returns().mean().item():.0f} | {real.mean_return:.0f} | "
              f"{real.success_rate:.2f} | {real.score:.3f} | {policy.policy.log_std.mean().item():.2f} |")


if __name__ == "__main__":
    main()
