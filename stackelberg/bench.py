"""`python -m stackelberg.bench`: how fast the hot paths run on this machine, and how close the
ensemble gets to the machine's own float32 matmul ceiling. Prints a table, writes JSON."""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

import tasks
from stackelberg.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.config import ModelConfig, NPGConfig
from stackelberg.game import Game
from stackelberg.players.dynamics import DynamicsEnsemble
from stackelberg.players.npg import NPGPolicyPlayer
from stackelberg.schedules import PAL


def best_time(fn: Callable[[], object], repeats: int, min_seconds: float = 0.5) -> float:
    """Best wall-clock of `fn` over timed rounds (the least disturbed run is the truest)."""
    fn()  # warm-up
    best, spent = math.inf, 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
        if spent > min_seconds * repeats:
            break
    return best


def matmul_ceiling(size: int = 1024) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    seconds = best_time(lambda: a @ b, repeats=20)
    return 2 * size**3 / seconds / 1e9


def ensemble_flops_per_row(model: DynamicsEnsemble) -> int:
    sizes = [model.obs_dim + model.act_dim, *model.config.hidden_sizes, model.obs_dim]
    return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) * model.ensemble_size


def bench_ensemble(obs_dim: int, act_dim: int, batch: int) -> dict:
    model = DynamicsEnsemble(obs_dim, act_dim, ModelConfig())
    e = model.ensemble_size
    x = torch.randn(e, batch, obs_dim + act_dim)
    y = torch.randn(e, batch, obs_dim)
    flops = ensemble_flops_per_row(model) * batch

    def forward():
        with torch.no_grad():
            model.net(x)

    def train_step():
        loss = ((model.net(x) - y) ** 2).mean(dim=(1, 2)).sum()
        model.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        model.optimizer.step()

    fwd, trn = best_time(forward, 50), best_time(train_step, 30)
    return {"batch_per_member": batch, "forward_transitions_per_s": e * batch / fwd,
            "forward_gflops": flops / fwd / 1e9, "train_transitions_per_s": e * batch / trn,
            "train_gflops": 3 * flops / trn / 1e9}


def _stub_model(task: tasks.Task) -> DynamicsEnsemble:
    """A fitted-shape model whose rollouts never terminate on the pendulum (worst case: H steps)."""
    model = DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig())
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn(256, task.obs_dim, generator=gen) * 0.01
    model.set_statistics(obs, torch.randn(256, task.act_dim, generator=gen), obs)
    with torch.no_grad():
        for p in model.net.parameters():
            p.mul_(1e-3)
    return model


def bench_npg(task_name: str = "inverted-pendulum") -> dict:
    task = tasks.make(task_name)
    model = _stub_model(task)
    player = NPGPolicyPlayer(task, NPGConfig())
    initial = InitialStateBuffer()
    initial.add(torch.zeros(task.obs_dim))
    starts = initial.sample(50, player.generator)
    rollout = best_time(lambda: player.rollouts(model, starts), 3)
    steps = model.ensemble_size * 50 * player.horizon
    update = best_time(lambda: player.improve(model, ReplayBuffer(), initial, 1), 2)
    return {"model_steps_per_s": steps / rollout, "rollout_seconds": rollout,
            "npg_update_seconds": update, "samples_per_update": steps}


def bench_pal_iteration(task_name: str, iterations: int = 2) -> dict:
    """Real PAL iterations with the paper's settings from scratch; the last one is timed."""
    task = tasks.make(task_name)
    game = Game(task, NPGPolicyPlayer(task, seed=0),
                DynamicsEnsemble(task.obs_dim, task.act_dim, seed=0), PAL(), seed=0, eval_episodes=1)
    reports = [game.step() for _ in range(iterations)]
    r = reports[-1]
    return {"task": task_name, "iteration": r.iteration, "seconds": r.seconds,
            "fit_seconds": r.fit_seconds, "improve_seconds": r.improve_seconds,
            "collect_seconds": r.collect_seconds, "eval_seconds": r.eval_seconds}


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stackelberg.bench", description=__doc__)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    p.add_argument("--tasks", nargs="*", default=["inverted-pendulum", "hopper", "dclaw-turn"],
                   help="tasks for the PAL-iteration timing (none to skip)")
    p.add_argument("--out", default="runs/out/bench.json")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result: dict = {"machine": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__}
    ceiling = matmul_ceiling()
    result["matmul_gflops"] = ceiling
    result["ensemble"] = [bench_ensemble(12, 3, b) for b in (200, 50)]
    for row in result["ensemble"]:
        row["train_fraction_of_ceiling"] = row["train_gflops"] / ceiling
        row["forward_fraction_of_ceiling"] = row["forward_gflops"] / ceiling
    result["npg"] = bench_npg()
    result["pal_iteration"] = [bench_pal_iteration(t) for t in args.tasks]

    lines = [f"threads {result['threads']}, torch {result['torch']}",
             f"float32 matmul ceiling            {ceiling:8.1f} GFLOP/s"]
    for row in result["ensemble"]:
        b = row["batch_per_member"]
        lines.append(f"ensemble fwd (4x512x512, B={b:3d})  {row['forward_gflops']:8.1f} GFLOP/s "
                     f"({row['forward_fraction_of_ceiling']:.0%}), {row['forward_transitions_per_s']:,.0f} transitions/s")
        lines.append(f"ensemble train step (B={b:3d})      {row['train_gflops']:8.1f} GFLOP/s "
                     f"({row['train_fraction_of_ceiling']:.0%}), {row['train_transitions_per_s']:,.0f} transitions/s")
    npg = result["npg"]
    lines.append(f"NPG model rollouts                {npg['model_steps_per_s']:,.0f} model steps/s")
    lines.append(f"NPG update (200 x {npg['samples_per_update'] // 200} steps)     {npg['npg_update_seconds']:8.2f} s")
    for row in result["pal_iteration"]:
        lines.append(f"PAL iteration {row['iteration']} on {row['task']:<18} {row['seconds']:6.1f} s "
                     f"(fit {row['fit_seconds']:.1f}, improve {row['improve_seconds']:.1f})")
    print("\n".join(lines))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
