"""`python -m stackelberg.bench`: how fast the hot paths run on this machine, how close the
ensemble gets to the machine's own float32 matmul ceiling, and how long PAL takes to solve a task.

Sections (`--only`): micro (matmul, ensemble, NPG, Fisher-vector products, train-step
variants; every row warmed up, then repeated: median (min-max)), pal (one real PAL iteration
per task), solve (time to solve: PAL played until its evaluation return reaches a threshold,
"paper" = [P]'s fixed-epoch float32 fit without denormal flushing (`model.holdout_fraction=0.0`,
`run.flush_denormal=false`, `model.fit_precision=float32`), against "library" = the resolved
defaults and "fast-fit" = the defaults with `model.holdout_fraction=0.2`, per seed) and
per1k (seconds per 1000 real samples after the initial iteration, same configurations).
The games are built as `python -m stackelberg.run` builds them, so a seed's numbers are the
run's. Prints a table, writes JSON."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Optional, Sequence

import torch

from stackelberg import tasks
from stackelberg.analysis import bench_baselines as base
from stackelberg.config import Config, check_device, config_changes, resolve_config
from stackelberg.models.config import ModelConfig
from stackelberg.npg.config import NPGConfig
from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.core.game import Game, IterationReport
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.npg.cg import conjugate_gradient
from stackelberg.npg.player import NPGPolicyPlayer
from stackelberg.npg.policy import GaussianMLPPolicy
from stackelberg.npg.step import fisher_vector_product

# --- timing a row ---------------------------------------------------------------------------

#: untimed calls until this much wall-clock is spent: thread pools start, caches and the CPU's
#: clock settle, so the first timed call is not the row's own start-up cost
WARMUP_SECONDS = 0.3


@dataclass(frozen=True)
class Timing:
    """Seconds per call over the timed repeats of a row: the median is the row's value, min and
    max its spread (a single minimum hid how order-sensitive the rows were)."""

    median: float
    min: float
    max: float
    repeats: int
    warmup_calls: int


def time_row(fn: Callable[[], object], repeats: int, budget_seconds: float = 0.5,
             warmup_seconds: float = WARMUP_SECONDS) -> Timing:
    """Warm `fn` up (untimed calls until `warmup_seconds`, at least one), then time up to
    `repeats` calls; stops early once the timed calls took `budget_seconds * repeats`, but not
    before three (a median of fewer is no median)."""
    warmup_calls, t_start = 0, time.perf_counter()
    while warmup_calls == 0 or time.perf_counter() - t_start < warmup_seconds:
        fn()
        warmup_calls += 1
    times: list[float] = []
    while len(times) < repeats:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 3 and sum(times) > budget_seconds * repeats:
            break
    return Timing(statistics.median(times), min(times), max(times), len(times), warmup_calls)


def put_seconds(row: dict, key: str, timing: Timing) -> None:
    """`row[key]` = the median seconds, `key_min` / `key_max` its spread."""
    row[key], row[f"{key}_min"], row[f"{key}_max"] = timing.median, timing.min, timing.max


def put_rate(row: dict, key: str, work: float, timing: Timing) -> None:
    """`row[key]` = work per second at the median, `key_min` / `key_max` at the slowest and the
    fastest call."""
    row[key], row[f"{key}_min"], row[f"{key}_max"] = (work / timing.median, work / timing.max,
                                                     work / timing.min)


def spread_text(row: dict, key: str, scale: float = 1.0, spec: str = ".1f") -> str:
    """`median (min-max)` of a row's `key`, times `scale`; the value alone in a record written
    before rows kept their spread."""
    if f"{key}_min" not in row:
        return f"{row[key] * scale:{spec}}"
    values = [row[k] * scale for k in (key, f"{key}_min", f"{key}_max")]
    return f"{values[0]:{spec}} ({values[1]:{spec}}-{values[2]:{spec}})"


# --- micro rows -----------------------------------------------------------------------------

def matmul_ceiling(size: int = 1024) -> dict:
    """float32 GFLOP/s of one square matmul: the ceiling the ensemble is compared with."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    row: dict = {"size": size}
    put_rate(row, "gflops", 2 * size**3 / 1e9, time_row(lambda: a @ b, repeats=20))
    return row


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

    fwd, trn = time_row(forward, 50), time_row(train_step, 30)
    row: dict = {"batch_per_member": batch}
    put_rate(row, "forward_transitions_per_s", e * batch, fwd)
    put_rate(row, "forward_gflops", flops / 1e9, fwd)
    put_rate(row, "train_transitions_per_s", e * batch, trn)
    put_rate(row, "train_gflops", 3 * flops / 1e9, trn)
    return row


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
        put_seconds(out, f"{name}_product_seconds", time_row(lambda: fvp(v), repeats))
        put_seconds(out, f"{name}_cg_seconds",
                    time_row(lambda: conjugate_gradient(make(), v, iters=25, residual_tol=0.0),
                             max(repeats, 3)))
    return out


def bench_ensemble_variants(obs_dim: int, act_dim: int, batch: int, repeats: int = 20,
                            compile_model: bool = True) -> dict:
    """Train-step throughput of the batched ensemble against the slower alternatives."""
    config = ModelConfig()
    model = DynamicsEnsemble(obs_dim, act_dim, config)
    e = model.ensemble_size
    x = torch.randn(e, batch, obs_dim + act_dim)
    y = torch.randn(e, batch, obs_dim)
    gflop = 3 * ensemble_flops_per_row(model) * batch / 1e9
    net = model.net
    members = base.member_loop(net)
    low_precision = DynamicsEnsemble(obs_dim, act_dim, replace(config, fit_precision="bfloat16"))
    variants: dict[str, tuple[Callable[[torch.Tensor], torch.Tensor], torch.optim.Optimizer]] = {
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
        out[name] = _variant_row(time_row(lambda: base.train_step(forward, optimizer, x, y), repeats),
                                 gflop)
    if compile_model:
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr, fused=True)
        try:
            compiled = torch.compile(net)
            t0 = time.perf_counter()
            base.train_step(compiled, optimizer, x, y)
            compile_seconds = time.perf_counter() - t0
            timing = time_row(lambda: base.train_step(compiled, optimizer, x, y), repeats)
            out["batched_fused_adam_compiled"] = {**_variant_row(timing, gflop),
                                                  "compile_seconds": compile_seconds}
        except Exception as err:  # no compiler toolchain, unsupported op, ...: report, go on
            out["batched_fused_adam_compiled"] = {"error": f"{type(err).__name__}: {err}"[:300]}
    return out


def _variant_row(timing: Timing, gflop: float) -> dict:
    row: dict = {}
    put_seconds(row, "seconds", timing)
    put_rate(row, "gflops", gflop, timing)
    return row


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
    steps = model.ensemble_size * 50 * player.horizon
    out: dict = {"samples_per_update": steps}
    rollout = time_row(lambda: player.rollouts(model, starts), 3)
    put_rate(out, "model_steps_per_s", steps, rollout)
    put_seconds(out, "rollout_seconds", rollout)
    put_seconds(out, "npg_update_seconds",
                time_row(lambda: player.improve(model, ReplayBuffer(), initial, 1), 3))
    return out


# --- whole games ----------------------------------------------------------------------------

#: the configurations compared: extra overrides on top of the bench's own. "paper" is [P]'s
#: fixed-epoch float32 fit with denormals not flushed, as [P]'s code runs; "library"
#: whatever the library's defaults resolve to (no override), so the comparison follows a change
#: of the default without an edit here; "fast-fit" the defaults with the model fit stopped on
#: held-out trajectories (an option: faster, but PAL learns DKitty-Orient slower with it).
CONFIGURATIONS: dict[str, tuple[tuple[str, Any], ...]] = {
    "paper": (("model.holdout_fraction", 0.0), ("run.flush_denormal", False),
              ("model.fit_precision", "float32")),
    "library": (),
    "fast-fit": (("model.holdout_fraction", 0.2),),
}
BASELINE = "paper"
PHASES = ("collect", "fit", "improve", "eval")
#: seconds per 1000 samples: iterations timed after the initial one, per task (else 5)
PER1K_ITERATIONS = {"hopper": 5, "dclaw-turn": 10}


def game_config(task: str, seed: int, configuration: str, overrides: Sequence[tuple[str, Any]] = (),
                threads: int = 1, samples: Optional[int] = None) -> Config:
    """The resolved config of one bench game: PAL on `task` with `seed`, `overrides` (the
    bench's `--set`), then the configuration's own (so "paper" stays paper). A `UserInputError`
    for a bad task or value, before any game is played."""
    layers: list[tuple[str, Any]] = [("run.task", task), ("run.algo", "pal"), ("run.seed", seed),
                                     ("run.threads", threads)]
    if samples is not None:
        layers.append(("run.samples", samples))
    return resolve_config(None, layers + list(overrides) + list(CONFIGURATIONS[configuration]))


def make_game(config: Config) -> Game:
    """The game `python -m stackelberg.run` plays with this config (`cli.run.play`: threads,
    then the torch and numpy seeds, then the players and the game), without a run folder: its
    reports are the run's metrics.csv rows."""
    from stackelberg.runner.players import build_players
    from stackelberg.runner.process import prepare_process

    run = config.run
    device = check_device(run.device)
    prepare_process(run.threads, run.flush_denormal, run.seed)
    task = tasks.make(run.task)
    policy, model = build_players(config, task, device)
    return Game(task, policy, model, config.schedule, seed=run.seed, perturbations=run.perturb,
                eval_episodes=run.eval_episodes, device=device)


def play_until(reports: Iterable[IterationReport], threshold: float
               ) -> tuple[list[IterationReport], bool]:
    """The reports up to and including the first whose evaluation return reaches `threshold`,
    and whether one did (else every report: the game ran out of samples first). Reads no
    report beyond that one, so the game stops there."""
    taken: list[IterationReport] = []
    for report in reports:
        taken.append(report)
        if report.eval_return >= threshold:
            return taken, True
    return taken, False


def phase_seconds(reports: Sequence[IterationReport]) -> dict[str, float]:
    """Whole-iteration seconds and each phase's, summed over `reports`."""
    out = {"seconds": sum(r.seconds for r in reports)}
    out.update({f"{p}_seconds": sum(getattr(r, f"{p}_seconds") for r in reports) for p in PHASES})
    return out


def solve_seed(config: Config, threshold: float) -> dict:
    """One game played until it solves (`play_until`) or collects `config.run.samples`."""
    game = make_game(config)
    reports, solved = play_until(game.play(config.run.samples), threshold)
    return {"seed": config.run.seed, "solved": solved, "samples": reports[-1].samples,
            "iterations": len(reports), **phase_seconds(reports),
            "eval_returns": [r.eval_return for r in reports]}


def censored_median(runs: Sequence[dict], key: str) -> Optional[float]:
    """Median over seeds of a time-to-solve figure; an unsolved seed counts as longer than any
    solved one, and None means the median seed did not solve."""
    median = statistics.median(run[key] if run["solved"] else math.inf for run in runs)
    return None if math.isinf(median) else median


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or b is None or b == 0 else a / b


def bench_solve(configs: dict[str, list[Config]], threshold: float) -> dict:
    """Time to solve per configuration (`configs[name]`: one config per seed, every list in
    the same seed order; BASELINE among them). Seeds are interleaved across configurations, so a
    drift of the machine (load, clock) falls on all alike. `ratio[name]`: baseline / name."""
    runs: dict[str, list[dict]] = {name: [] for name in configs}
    for per_seed in zip(*configs.values()):
        for name, config in zip(configs, per_seed):
            runs[name].append(solve_seed(config, threshold))
    keys = ("samples", "seconds", *(f"{p}_seconds" for p in PHASES))
    first = {name: cs[0] for name, cs in configs.items()}
    base = first[BASELINE]
    out: dict = {"task": base.run.task, "threshold": threshold, "cap": base.run.samples,
                 "threads": base.run.threads, "seeds": [c.run.seed for c in configs[BASELINE]],
                 "configurations": {}}
    for name, config in first.items():
        out["configurations"][name] = {
            "overrides": [list(item) for item in CONFIGURATIONS[name]],
            "differences": sorted(config_changes(config, base)),
            "holdout_fraction": config.model.holdout_fraction,
            "median": {k: censored_median(runs[name], k) for k in keys}, "runs": runs[name]}
    medians = {name: out["configurations"][name]["median"] for name in configs}
    out["ratio"] = {name: {k: ratio(medians[BASELINE][k], medians[name][k]) for k in keys}
                    for name in configs if name != BASELINE}
    return out


def per_1000_row(config: Config, iterations: int) -> dict:
    """Seconds per 1000 real samples over `iterations` iterations after the initial one (whose
    larger collection and first fit are not the steady pace)."""
    game = make_game(config)
    game.step()
    start = game.samples
    reports = [game.step() for _ in range(iterations)]
    samples = game.samples - start
    totals = phase_seconds(reports)
    row: dict = {"holdout_fraction": config.model.holdout_fraction, "iterations": iterations,
                 "samples": samples}
    row.update({f"{k}_per_1000": v / samples * 1000 for k, v in totals.items()})
    row["eval_returns"] = [r.eval_return for r in reports]
    return row


def bench_per_1000(configs: dict[str, Config], iterations: int) -> dict:
    """`per_1000_row` for each configuration of one task, and the ratios baseline / each."""
    rows = {name: per_1000_row(config, iterations) for name, config in configs.items()}
    keys = [k for k in rows[BASELINE] if k.endswith("_per_1000")]
    base = configs[BASELINE]
    return {"task": base.run.task, "seed": base.run.seed, "threads": base.run.threads,
            "iterations": iterations, "configurations": rows,
            "ratio": {name: {k: ratio(rows[BASELINE][k], rows[name][k]) for k in keys}
                      for name in rows if name != BASELINE}}


def bench_pal_iteration(config: Config, iterations: int = 2) -> dict:
    """Real PAL iterations from scratch (`make_game`); the first is warm-up (its collection and
    fit are larger), the rest are timed: the median iteration and its spread."""
    game = make_game(config)
    reports = [game.step() for _ in range(max(iterations, 2))][1:]
    row: dict = {"task": config.run.task, "iteration": reports[-1].iteration,
                 "timed_iterations": len(reports)}
    for key in ("seconds", *(f"{p}_seconds" for p in PHASES)):
        values = [getattr(r, key) for r in reports]
        row[key], row[f"{key}_min"], row[f"{key}_max"] = (statistics.median(values), min(values),
                                                          max(values))
    return row
