"""`python -m stackelberg.bench`: how fast the hot paths run on this machine, and how close the
ensemble gets to the machine's own float32 matmul ceiling. Prints a table, writes JSON."""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

import tasks
from stackelberg import bench_baselines as base
from stackelberg.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.cg import conjugate_gradient
from stackelberg.config import ModelConfig, NPGConfig
from stackelberg.game import Game
from stackelberg.players.dynamics import DynamicsEnsemble
from stackelberg.players.npg import NPGPolicyPlayer
from stackelberg.policy import GaussianMLPPolicy
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


def bench_fvp(states: int, repeats: int = 5) -> dict:
    """Fisher-vector products on `states` states of the 64x64 policy (Hopper's sizes): the
    double-backward route vs the closed form, per product and per 25-iteration CG solve."""
    gen = torch.Generator().manual_seed(0)
    policy = GaussianMLPPolicy(12, 3, (64, 64))
    obs = torch.randn(states, 12, generator=gen)
    n = sum(p.numel() for p in policy.parameters())
    v = torch.randn(n, generator=gen)
    closed = policy.fisher_vector_product(obs, 1e-3)
    autograd = base.autograd_fisher_vector_product(policy, obs, 1e-3)
    a, c = autograd(v), closed(v)
    out = {"states": states,
           "max_relative_difference": float((a - c).abs().max() / c.abs().max())}
    for name, make in (("autograd", lambda: base.autograd_fisher_vector_product(policy, obs, 1e-3)),
                       ("closed_form", lambda: policy.fisher_vector_product(obs, 1e-3))):
        fvp = make()
        out[f"{name}_product_seconds"] = best_time(lambda: fvp(v), repeats)
        out[f"{name}_cg_seconds"] = best_time(lambda: conjugate_gradient(make(), v, iters=25,
                                                                          residual_tol=0.0), 2)
    return out


def bench_ensemble_variants(obs_dim: int, act_dim: int, batch: int, repeats: int = 20,
                            compile_model: bool = True) -> dict:
    """Train-step throughput of the batched ensemble against the slower alternatives."""
    config = ModelConfig()
    model = DynamicsEnsemble(obs_dim, act_dim, config)
    e = model.ensemble_size
    x = torch.randn(e, batch, obs_dim + act_dim)
    y = torch.randn(e, batch, obs_dim)
    flops = 3 * ensemble_flops_per_row(model) * batch
    net = model.net
    members = base.member_loop(net)
    low_precision = DynamicsEnsemble(obs_dim, act_dim, replace(config, fit_precision="bfloat16"))
    variants = {
        "loop_foreach_adam": (lambda t: base.loop_forward(members, t),
                              torch.optim.Adam(members.parameters(), lr=config.lr)),
        "batched_foreach_adam": (net, torch.optim.Adam(net.parameters(), lr=config.lr)),
        "batched_fused_adam": (net, torch.optim.Adam(net.parameters(), lr=config.lr, fused=True)),
        # model.fit_precision = "bfloat16": the fit's own forward, under autocast
        "batched_fused_adam_bf16": (low_precision.training_forward,
                                    torch.optim.Adam(low_precision.net.parameters(), lr=config.lr, fused=True)),
    }
    out: dict = {"batch_per_member": batch}
    for name, (forward, optimizer) in variants.items():
        seconds = best_time(lambda: base.train_step(forward, optimizer, x, y), repeats)
        out[name] = {"seconds": seconds, "gflops": flops / seconds / 1e9}
    if compile_model:
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, fused=True)
        try:
            compiled = torch.compile(net)
            t0 = time.perf_counter()
            base.train_step(compiled, optimizer, x, y)
            compile_seconds = time.perf_counter() - t0
            seconds = best_time(lambda: base.train_step(compiled, optimizer, x, y), repeats)
            out["batched_fused_adam_compiled"] = {"seconds": seconds, "gflops": flops / seconds / 1e9,
                                                  "compile_seconds": compile_seconds}
        except Exception as err:  # no compiler toolchain, unsupported op, ...: report, go on
            out["batched_fused_adam_compiled"] = {"error": f"{type(err).__name__}: {err}"[:300]}
    return out


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
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few repeats: checks the bench runs, measures little")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    result: dict = {"machine": platform.processor() or platform.machine(),
                    "threads": torch.get_num_threads(), "torch": torch.__version__}
    quick = args.quick
    ceiling = matmul_ceiling(256 if quick else 1024)
    result["matmul_gflops"] = ceiling
    result["ensemble"] = [bench_ensemble(12, 3, b) for b in ((16,) if quick else (200, 50))]
    for row in result["ensemble"]:
        row["train_fraction_of_ceiling"] = row["train_gflops"] / ceiling
        row["forward_fraction_of_ceiling"] = row["forward_gflops"] / ceiling
    result["npg"] = None if quick else bench_npg()
    result["fvp"] = bench_fvp(2_000 if quick else 100_000, repeats=1 if quick else 5)
    result["ensemble_variants"] = bench_ensemble_variants(
        12, 3, 16 if quick else 200, repeats=2 if quick else 20,
        compile_model=not (quick or args.no_compile))
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
    if npg is not None:
        lines.append(f"NPG model rollouts                {npg['model_steps_per_s']:,.0f} model steps/s")
        lines.append(f"NPG update (200 x {npg['samples_per_update'] // 200} steps)     "
                     f"{npg['npg_update_seconds']:8.2f} s")
    fvp = result["fvp"]
    lines.append(f"Fisher-vector product, {fvp['states']:,} states: double backward "
                 f"{fvp['autograd_product_seconds'] * 1e3:.1f} ms -> closed form "
                 f"{fvp['closed_form_product_seconds'] * 1e3:.1f} ms "
                 f"({fvp['autograd_product_seconds'] / fvp['closed_form_product_seconds']:.1f}x); "
                 f"25-step CG {fvp['autograd_cg_seconds']:.2f} s -> {fvp['closed_form_cg_seconds']:.2f} s; "
                 f"max relative difference {fvp['max_relative_difference']:.1e}")
    var = result["ensemble_variants"]
    loop, foreach, fused = (var[k]["gflops"] for k in ("loop_foreach_adam", "batched_foreach_adam",
                                                       "batched_fused_adam"))
    lines.append(f"ensemble train step (B={var['batch_per_member']}): member loop {loop:.1f} -> "
                 f"batched {foreach:.1f} -> + fused Adam {fused:.1f} GFLOP/s "
                 f"({fused / loop:.2f}x over the loop; {fused / ceiling:.0%} of the ceiling)")
    bf16 = var["batched_fused_adam_bf16"]["gflops"]
    lines.append(f"bfloat16 fit (autocast, same step): {bf16:.1f} GFLOP/s ({bf16 / fused:.2f}x float32)")
    compiled = var.get("batched_fused_adam_compiled")
    if compiled and "error" in compiled:
        lines.append(f"torch.compile: failed ({compiled['error']})")
    elif compiled:
        lines.append(f"torch.compile (same step): {compiled['gflops']:.1f} GFLOP/s "
                     f"({compiled['gflops'] / fused:.2f}x eager), compile {compiled['compile_seconds']:.1f} s")
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
