"""`python -m stackelberg.bench` (`stackelberg bench`): the command line of
`stackelberg.analysis.bench`, whose docstring is its help."""
from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from stackelberg.analysis import bench as analysis
from stackelberg.analysis.bench import (bench_ensemble, bench_ensemble_variants, bench_fvp,
                                        bench_npg, bench_pal_iteration, matmul_ceiling)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stackelberg.bench", description=analysis.__doc__)
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
