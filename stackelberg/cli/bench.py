"""`python -m stackelberg.bench` (`stackelberg bench`): the command line of
`stackelberg.analysis.bench`, whose docstring is its help."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence

import torch

from stackelberg.analysis import bench as analysis
from stackelberg.analysis.bench import (BASELINE, CONFIGURATIONS, PER1K_ITERATIONS, bench_ensemble,
                                        bench_ensemble_variants, bench_fvp, bench_npg,
                                        bench_pal_iteration, bench_per_1000, bench_solve,
                                        game_config, matmul_ceiling, spread_text)
from stackelberg.cli.args import ArgumentParser, finite_float
from stackelberg.cli.run import _set_items
from stackelberg.core.errors import UserInputError, check_output_file, exit_with
from stackelberg.core.hardware import cpu_has_native_bfloat16, cpu_model_name

SECTIONS = ("micro", "pal", "solve", "per1k")
# --quick: games small enough that the whole bench runs in seconds (it checks the code runs)
QUICK_GAME = [("schedule.initial_samples", 400), ("schedule.samples_per_iteration", 400),
              ("schedule.model_epochs", 2), ("npg.num_trajectories", 8), ("npg.horizon_cap", 20),
              ("npg.cg_iters", 3), ("model.hidden_sizes", [32, 32]), ("run.eval_episodes", 1)]


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m stackelberg.bench", description=analysis.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS), metavar="SECTION",
                   help=f"sections to run: {', '.join(SECTIONS)} (default all)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads (micro and pal: default all cores; solve and per1k: "
                        "default 1)")
    p.add_argument("--tasks", nargs="*", default=["inverted-pendulum", "hopper", "dclaw-turn"],
                   help="tasks for the PAL-iteration timing (none to skip)")
    p.add_argument("--solve-task", default="inverted-pendulum")
    p.add_argument("--solve-seeds", nargs="+", type=int, default=[0, 1, 2], metavar="SEED")
    p.add_argument("--solve-return", type=finite_float, default=950.0,
                   help="solved once an iteration's evaluation return reaches this (default 950)")
    p.add_argument("--solve-cap", type=int, default=15_000,
                   help="samples after which an unsolved game stops (default 15000)")
    p.add_argument("--per1k-tasks", nargs="+", default=list(PER1K_ITERATIONS), metavar="TASK")
    p.add_argument("--per1k-iterations", nargs="+", type=int, metavar="K",
                   help="iterations timed after the initial one: one value for every task or one "
                        "per task (default: " + ", ".join(f"{t} {k}" for t, k in PER1K_ITERATIONS.items())
                        + ", else 5)")
    p.add_argument("--per1k-seed", type=int, default=0)
    p.add_argument("--eval-episodes", type=int, help="evaluation episodes of the solve and per1k "
                                                     "games (default: the run's)")
    p.add_argument("--configurations", nargs="+", choices=sorted(CONFIGURATIONS),
                   default=list(CONFIGURATIONS), metavar="NAME",
                   help=f"solve/per1k configurations ({', '.join(CONFIGURATIONS)}; default all; "
                        f"{BASELINE} is always played, as the baseline of the ratios)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a config value of every solve/per1k game, both configurations "
                        "(the paper configuration's own keys still win)")
    p.add_argument("--out", default="runs/out/bench.json")
    p.add_argument("--show", metavar="JSON",
                   help="measure nothing: print a bench's JSON (a record) as the bench printed it")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few repeats: checks the bench runs, measures little")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variant")
    return p


@contextlib.contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run a section with `threads` torch threads (0 = leave as is), restoring them after."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def per1k_iterations(tasks: Sequence[str], given: Optional[Sequence[int]]) -> list[int]:
    if not given:
        return [PER1K_ITERATIONS.get(t, 5) for t in tasks]
    if len(given) not in (1, len(tasks)):
        raise UserInputError(f"--per1k-iterations takes one value or one per task "
                             f"({len(tasks)}), got {len(given)}")
    return list(given) * len(tasks) if len(given) == 1 else list(given)


def check_args(args: argparse.Namespace) -> None:
    """The numbers argparse cannot check; a `UserInputError` naming the flag."""
    if args.threads is not None and args.threads < 0:
        raise UserInputError(f"--threads must be >= 0, got {args.threads}")
    if args.solve_cap <= 0:
        raise UserInputError(f"--solve-cap must be positive, got {args.solve_cap}")
    if any(k <= 0 for k in args.per1k_iterations or ()):
        raise UserInputError("--per1k-iterations must be positive")
    if args.eval_episodes is not None and args.eval_episodes <= 0:
        raise UserInputError(f"--eval-episodes must be positive, got {args.eval_episodes}")


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Every game config the chosen sections play, resolved (and so validated) before any
    measuring starts: a bad task or --set fails in a second, not after the micro rows."""
    check_args(args)
    check_output_file(args.out, "--out")
    quick = args.quick
    overrides: list[tuple[str, Any]] = (QUICK_GAME if quick else []) + _set_items(args.set)
    if args.eval_episodes is not None:
        overrides.append(("run.eval_episodes", args.eval_episodes))
    threads = args.threads or 1  # whole games: one thread unless told (the runs' setting)
    seeds = args.solve_seeds[:1] if quick else args.solve_seeds
    cap = min(args.solve_cap, 1_200) if quick else args.solve_cap
    per1k_tasks = ["inverted-pendulum"] if quick else args.per1k_tasks
    iterations = [1] * len(per1k_tasks) if quick else per1k_iterations(per1k_tasks, args.per1k_iterations)
    out: dict[str, Any] = {}
    if "pal" in args.only:
        pal_overrides = (QUICK_GAME if quick else []) + [("run.eval_episodes", 1)]
        out["pal"] = [game_config(t, 0, "library", pal_overrides, threads=args.threads or 0)
                      for t in args.tasks]
    names = [BASELINE] + [n for n in args.configurations if n != BASELINE]
    if "solve" in args.only:
        out["solve"] = {name: [game_config(args.solve_task, s, name, overrides, threads, cap)
                               for s in seeds] for name in names}
    if "per1k" in args.only:
        out["per1k"] = [({name: game_config(t, args.per1k_seed, name, overrides, threads)
                          for name in names}, k) for t, k in zip(per1k_tasks, iterations)]
    return out


def micro(quick: bool, compile_model: bool) -> dict:
    """The micro rows: matmul ceiling, ensemble, NPG, Fisher-vector products, variants."""
    matmul = matmul_ceiling(256 if quick else 1024)
    ceiling = matmul["gflops"]
    result: dict = {"matmul": matmul, "matmul_gflops": ceiling}
    result["ensemble"] = [bench_ensemble(12, 3, b) for b in ((16,) if quick else (200, 50))]
    for row in result["ensemble"]:
        row["train_fraction_of_ceiling"] = row["train_gflops"] / ceiling
        row["forward_fraction_of_ceiling"] = row["forward_gflops"] / ceiling
    result["npg_update"] = None if quick else bench_npg()
    result["fvp"] = bench_fvp(2_000 if quick else 100_000, repeats=1 if quick else 5)
    result["ensemble_variants"] = bench_ensemble_variants(
        12, 3, 16 if quick else 200, repeats=2 if quick else 20, compile_model=compile_model)
    return result


def micro_lines(result: dict) -> list[str]:
    ceiling = result["matmul_gflops"]
    lines = [f"float32 matmul ceiling            {spread_text(result['matmul'], 'gflops')} GFLOP/s"]
    for row in result["ensemble"]:
        b = row["batch_per_member"]
        lines.append(f"ensemble fwd (4x512x512, B={b:3d})  {spread_text(row, 'forward_gflops')} GFLOP/s "
                     f"({row['forward_fraction_of_ceiling']:.0%}), "
                     f"{spread_text(row, 'forward_transitions_per_s', spec=',.0f')} transitions/s")
        lines.append(f"ensemble train step (B={b:3d})      {spread_text(row, 'train_gflops')} GFLOP/s "
                     f"({row['train_fraction_of_ceiling']:.0%}), "
                     f"{spread_text(row, 'train_transitions_per_s', spec=',.0f')} transitions/s")
    npg = result["npg_update"]
    if npg is not None:
        lines.append(f"NPG model rollouts                {spread_text(npg, 'model_steps_per_s', spec=',.0f')} "
                     f"model steps/s")
        lines.append(f"NPG update (200 x {npg['samples_per_update'] // 200} steps)     "
                     f"{spread_text(npg, 'npg_update_seconds', spec='.2f')} s")
    fvp = result["fvp"]
    lines.append(f"Fisher-vector product, {fvp['states']:,} states: double backward "
                 f"{spread_text(fvp, 'autograd_product_seconds', 1e3)} ms -> closed form "
                 f"{spread_text(fvp, 'closed_form_product_seconds', 1e3)} ms "
                 f"({fvp['autograd_product_seconds'] / fvp['closed_form_product_seconds']:.1f}x); "
                 f"25-step CG {spread_text(fvp, 'autograd_cg_seconds', spec='.2f')} s -> "
                 f"{spread_text(fvp, 'closed_form_cg_seconds', spec='.2f')} s; "
                 f"max relative difference {fvp['max_relative_difference']:.1e}")
    var = result["ensemble_variants"]
    loop, foreach, fused = (spread_text(var[k], "gflops") for k in
                            ("loop_foreach_adam", "batched_foreach_adam", "batched_fused_adam"))
    fused_gflops = var["batched_fused_adam"]["gflops"]
    lines.append(f"ensemble train step (B={var['batch_per_member']}), GFLOP/s: member loop {loop} -> "
                 f"batched {foreach} -> + fused Adam {fused} "
                 f"({fused_gflops / var['loop_foreach_adam']['gflops']:.2f}x over the loop; "
                 f"{fused_gflops / ceiling:.0%} of the ceiling)")
    bf16 = var["batched_fused_adam_bf16"]
    lines.append(f"bfloat16 fit (autocast, same step): {spread_text(bf16, 'gflops')} GFLOP/s "
                 f"({bf16['gflops'] / fused_gflops:.2f}x float32)")
    compiled = var.get("batched_fused_adam_compiled")
    if compiled and "error" in compiled:
        lines.append(f"torch.compile: failed ({compiled['error']})")
    elif compiled:
        lines.append(f"torch.compile (same step): {spread_text(compiled, 'gflops')} GFLOP/s "
                     f"({compiled['gflops'] / fused_gflops:.2f}x eager), "
                     f"compile {compiled['compile_seconds']:.1f} s")
    return lines


def pal_lines(rows: list[dict]) -> list[str]:
    return [f"PAL iteration {row['iteration']} on {row['task']:<18} "
            f"{spread_text(row, 'seconds')} s (fit {row['fit_seconds']:.1f}, "
            f"improve {row['improve_seconds']:.1f})" for row in rows]


def _num(value: Optional[float], spec: str, missing: str = "-") -> str:
    """A median of unsolved seeds (None) or a ratio with one shows as `missing`."""
    return missing if value is None else f"{value:{spec}}"


def solve_lines(solve: dict) -> list[str]:
    """Median over seeds per configuration side by side, the ratios, then every seed."""
    confs = solve["configurations"]
    names = list(confs)
    lines = [f"time to solve: PAL on {solve['task']}, eval return >= {solve['threshold']:g}, "
             f"cap {solve['cap']:,} samples, seeds {solve['seeds']}, {solve['threads']} thread(s)"]
    lines += [f"  {name}: differs from {BASELINE} in {', '.join(conf['differences']) or 'nothing'}"
              for name, conf in confs.items() if name != BASELINE]
    others = [n for n in names if n != BASELINE]
    lines.append(f"  {'median over seeds':<20}" + "".join(f"{n:>12}" for n in names)
                 + "".join(f"{BASELINE + '/' + n:>20}" for n in others))
    for key, spec in (("samples", ",.0f"), ("seconds", ".1f"), ("fit_seconds", ".1f"),
                      ("improve_seconds", ".1f"), ("eval_seconds", ".1f"), ("collect_seconds", ".1f")):
        lines.append(f"  {key:<20}" + "".join(f"{_num(confs[n]['median'][key], spec, 'unsolved'):>12}"
                                             for n in names)
                     + "".join(f"{_num(solve['ratio'][n][key], '.2f'):>20}" for n in others))
    for name, conf in confs.items():
        for run in conf["runs"]:
            status = "solved" if run["solved"] else "NOT solved"
            lines.append(f"  {name:<8} seed {run['seed']}: {status} at {run['samples']:,} samples, "
                         f"{run['iterations']} iterations, {run['seconds']:.1f} s (fit "
                         f"{run['fit_seconds']:.1f}, improve {run['improve_seconds']:.1f}, eval "
                         f"{run['eval_seconds']:.1f}, collect {run['collect_seconds']:.1f})")
    return lines


def per1k_lines(rows: list[dict]) -> list[str]:
    lines = [f"seconds per 1000 samples (after the initial iteration): {BASELINE} / each (ratio)"]
    for row in rows:
        base = row["configurations"][BASELINE]
        for name, ratios in row["ratio"].items():
            conf = row["configurations"][name]
            parts = [f"{key.removesuffix('_seconds_per_1000') if key != 'seconds_per_1000' else 'total'} "
                     f"{base[key]:.1f} / {conf[key]:.1f} ({_num(ratios[key], '.2f')})" for key in ratios]
            lines.append(f"  {row['task']:<18} seed {row['seed']}, {row['iterations']} iterations, "
                         f"{BASELINE} / {name}: " + ", ".join(parts))
    return lines


def machine_line(result: dict) -> str:
    """What a record was measured on: the CPU and whether it multiplies bfloat16 natively (the
    model fit's speed depends on it), or that an older record did not say."""
    if "cpu" not in result:
        cpu = f"{result.get('machine', '?')} (CPU model and bfloat16 support not recorded)"
    else:
        cpu = f"{result['cpu']} (native bfloat16: {'yes' if result['native_bfloat16'] else 'no'})"
    return f"measured on {cpu}, torch {result.get('torch', '?')}, {result.get('threads', '?')} thread(s)"


def _one_comparison_record(section: dict) -> None:
    """Records written when a bench compared one configuration with the baseline hold a single
    ratio dict (and the solve's key differences at the top); name it after that configuration,
    as the bench writes them now."""
    others = [n for n in section["configurations"] if n != BASELINE]
    if len(others) == 1 and others[0] not in section["ratio"]:
        section["ratio"] = {others[0]: section["ratio"]}
    if "differences" in section:
        for name in others:
            section["configurations"][name].setdefault("differences", section["differences"])


def show_lines(result: dict) -> list[str]:
    """A bench record's sections as the bench printed them; micro rows of records written before
    the rows kept their spread are left to the JSON."""
    for section in [result.get("solve"), *result.get("per_1000_samples", [])]:
        if section:
            _one_comparison_record(section)
    lines = [machine_line(result)]
    if "matmul" in result:
        lines += micro_lines(result)
    if "pal_iteration" in result:
        lines += pal_lines(result["pal_iteration"])
    if "solve" in result:
        lines += solve_lines(result["solve"])
    if "per_1000_samples" in result:
        lines += per1k_lines(result["per_1000_samples"])
    return lines


def show(path: Path) -> list[str]:
    from stackelberg.analysis.report import read_text

    try:
        result = json.loads(read_text(path))
        if not isinstance(result, dict):
            raise ValueError("not an object")
        return show_lines(result)
    except (ValueError, KeyError, TypeError) as err:
        raise UserInputError(f"{path} is not a JSON file `python -m stackelberg.bench` wrote "
                             f"({type(err).__name__}: {err})") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.show:
        try:
            _show(show(Path(args.show)))
        except UserInputError as err:
            return exit_with(err)
        return 0
    try:
        games = plan(args)
    except UserInputError as err:
        return exit_with(err)
    result: dict = {"cpu": cpu_model_name(), "native_bfloat16": cpu_has_native_bfloat16(),
                    "torch": torch.__version__, "sections": [s for s in SECTIONS if s in args.only]}
    with torch_threads(args.threads or 0):
        result["threads"] = torch.get_num_threads()
        _show([machine_line(result)])
        if "micro" in args.only:
            result.update(micro(args.quick, not (args.quick or args.no_compile)))
            _show(micro_lines(result))
        if "pal" in args.only:
            result["pal_iteration"] = [_in_threads(bench_pal_iteration, c) for c in games["pal"]]
            _show(pal_lines(result["pal_iteration"]))
    if "solve" in games:
        result["solve"] = _in_threads(bench_solve, games["solve"], args.solve_return)
        _show(solve_lines(result["solve"]))
    if "per1k" in games:
        result["per_1000_samples"] = [_in_threads(bench_per_1000, configs, k)
                                      for configs, k in games["per1k"]]
        _show(per1k_lines(result["per_1000_samples"]))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written to {out}", file=sys.stderr)
    return 0


def _show(lines: list[str]) -> None:
    """A section's lines as soon as it is done (the whole bench takes a while)."""
    print("\n".join(lines), flush=True)


def _in_threads(fn: Any, configs: Any, *args: Any) -> Any:
    """`fn(configs, *args)`, restoring the torch threads the games set (`run.threads`)."""
    with torch_threads(0):
        return fn(configs, *args)

