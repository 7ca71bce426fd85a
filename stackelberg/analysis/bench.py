"""`python -m stackelberg.bench`: how fast the hot paths run on this machine, and how close the
ensemble gets to the machine's own float32 matmul ceiling. Prints a table, writes JSON."""
from __future__ import annotations

import math
import time
from dataclasses import replace
from typing import Callable

import torch

from stackelberg import tasks
from stackelberg.analysis import bench_baselines as base
from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.npg.cg import conjugate_gradient
from stackelberg.npg.step import fisher_vector_product
from stackelberg.config import ModelConfig, NPGConfig
from stackelberg.core.game import Game
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.npg.player import NPGPolicyPlayer
from stackelberg.npg.policy import GaussianMLPPolicy
from stackelberg.core.schedules import PAL


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
    autograd = fisher_vector_product(policy, obs, 1e-3)
    a, c = autograd(v), closed(v)
    out = {"states": states,
           "max_relative_difference": float((a - c).abs().max() / c.abs().max())}
    for name, make in (("autograd", lambda: fisher_vector_product(policy, obs, 1e-3)),
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
