"""Is a run's policy player held back by its step count or by its model? (runs/notes/dclaw-investigation.md 7.8)

Loads a run's snapshot (policy, value function and model ensemble at one iteration), then keeps
taking NPG steps on that *frozen* model, as a more aggressive policy player would, and after
each block of steps measures the policy twice: J(pi, M), its return predicted by the model, and
J(pi, W), its return, success rate and score in the real world (deterministic policy, the same
evaluation episodes every time). If J(pi, W) climbs with the extra steps, the run's conservative
policy step is the bottleneck; if only J(pi, M) climbs, the model is. Model rollouts start from
the run's initial-state buffer only (as DClaw and DKitty runs do: start fraction 0).

    .venv/bin/python runs/dclaw-variants/probes/policy_step_probe.py runs/out/robel-fig2/dclaw-turn-pal-s0 \
        --snapshot 80 --steps 0,4,10,25,50 --episodes 20

`--model-from RUN:ITERATION` takes the frozen model from another run's snapshot instead (runs/notes/dclaw-investigation.md
7.15: can seed 0's policy learn the turn its own model does not know, given a model that does?).
On dclaw-turn the success rate is also split by the sign of the initial target error obs[20].
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # run from anywhere in the checkout

import tasks  # noqa: E402
from stackelberg.worlds import collect as world  # noqa: E402
from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer  # noqa: E402
from stackelberg.core.registry import build_players  # noqa: E402
from stackelberg.cli.diagnose import load_config  # noqa: E402
from stackelberg.core.run_folder import load_checkpoint  # noqa: E402
from stackelberg.npg.rollouts import model_rollouts  # noqa: E402


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


def snapshot_arg(text: str) -> tuple[Path, int]:
    run, sep, iteration = text.rpartition(":")
    if not sep or not iteration.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected RUN_FOLDER:ITERATION, e.g. runs/out/x:220")
    if not (Path(run) / "snapshots" / f"iter_{int(iteration):04d}.pt").is_file():
        raise argparse.ArgumentTypeError(f"{run} has no snapshot of iteration {iteration}; "
                                         f"list {Path(run) / 'snapshots'} for the saved ones")
    return Path(run), int(iteration)


def load_model(config, task, run: Path, iteration: int):
    """The model player of another run's snapshot, built from that run's own config."""
    other = load_config(run)
    if other.run.task != config.run.task:
        sys.exit(f"error: --model-from {run} is a {other.run.task} run, not {config.run.task}")
    _, model = build_players(other, task, "cpu")
    model.load_state_dict(load_checkpoint(run / "snapshots" / f"iter_{iteration:04d}.pt")["model"])
    return model


def success_by_target_sign(task_name: str, task, trajs) -> str:
    """' (error > 0: x, error < 0: y)' on dclaw-turn, else ''."""
    if task_name != "dclaw-turn":
        return ""
    success = world.judge_episodes(task, trajs)[0]
    sign = np.array([float(t.obs[0, 20]) for t in trajs]) > 0
    return f" (> 0: {success[sign].mean():.2f}, < 0: {success[~sign].mean():.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--snapshot", type=int, required=True, help="iteration of snapshots/iter_NNNN.pt")
    parser.add_argument("--steps", default="0,4,10,25,50", help="cumulative NPG step counts to measure at")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--seed", type=int, default=123)
    parser.add_argument("--model-from", type=snapshot_arg, default=None,
                        help="RUN:ITERATION whose model to use instead of the run's own")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)

    config = load_config(args.run)
    task = tasks.make(config.run.task)
    policy, model = build_players(config, task, "cpu")
    snapshot = load_checkpoint(args.run / "snapshots" / f"iter_{args.snapshot:04d}.pt")
    policy.load_state_dict(snapshot["policy"])
    model.load_state_dict(snapshot["model"])
    if args.model_from is not None:
        model = load_model(config, task, *args.model_from)
    starts = initial_states(args.run, args.snapshot)
    act = lambda obs: policy.act(obs, deterministic=True)  # noqa: E731

    print(f"{args.run} snapshot {args.snapshot} ({snapshot['samples']} samples), "
          f"{len(starts)} start states, {args.episodes} evaluation episodes"
          + (f", model from {args.model_from[0]}:{args.model_from[1]}" if args.model_from else ""))
    print("| NPG steps on the frozen model | J(pi, M) | J(pi, W) | success | score | log-std |")
    print("|---:|---:|---:|---:|---:|---:|")
    done = 0
    for target in sorted(int(s) for s in args.steps.split(",")):
        if target > done:
            policy.improve(model, ReplayBuffer(), starts, target - done)
            done = target
        env = task.make_env(args.seed)
        env.reset(seed=args.seed)
        trajs = [world.run_episode(env, act, task) for _ in range(args.episodes)]
        real = world.outcomes(task, trajs)
        starts_now = torch.stack([t.obs[0] for t in trajs])
        real_return = np.mean([t.reward.sum().item() for t in trajs])
        paths = model_rollouts(model.step, act, task, starts_now, model.ensemble_size,
                               task.horizon, None)
        print(f"| {done} | {paths.returns().mean().item():.0f} | {real_return:.0f} | "
              f"{real.success_rate:.2f}{success_by_target_sign(config.run.task, task, trajs)} | {real.score:.3f} | {policy.policy.log_std.mean().item():.2f} |")


if __name__ == "__main__":
    main()
