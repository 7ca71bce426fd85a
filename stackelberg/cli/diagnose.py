"""`python -m stackelberg.diagnose RUN`: model-error amplification of a run's snapshots.

Each snapshot (snapshots/iter_XXXX.pt: the policy and model of one iteration) is evaluated with
`stackelberg.analysis.diagnostics.model_error_amplification`: policy pi_k with model M_k, as [P] Figure 6
does at several training stages. Writes a figure (one panel per snapshot, open vs closed loop,
member mean with a min-max band over members) and the numbers as JSON and CSV.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from stackelberg import tasks
from stackelberg.config import Config, resume_config
from stackelberg.runner.run_folder import CHECKPOINT, RunFolder
from stackelberg.analysis.diagnostics import (Component, ErrorAmplification, model_error_amplification,
                                     resolve_component, task_component)
from stackelberg.cli.args import ArgumentParser, path_text
from stackelberg.core.errors import (UserInputError, check_figure_path, check_output_file, exit_with,
                                     from_os_error, make_output_dir)



def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m stackelberg.diagnose",
        description="Open- vs closed-loop model error amplification ([P] appendix B.3, Figure 6).")
    p.add_argument("run", nargs="?", help="run folder (config.toml, checkpoint.pt, snapshots/)")
    p.add_argument("--replot", nargs="+", metavar="JSON",
                   help="instead of a run: redraw the figure from diagnose JSON files (records), "
                        "one row per file, e.g. PAL's and MAL's as [P] Figure 6 (needs --out)")
    p.add_argument("--labels", nargs="+", metavar="LABEL",
                   help="with --replot: a row title per JSON (default: the title stored in it)")
    p.add_argument("--snapshots", nargs="+", default=["all"], metavar="S",
                   help="'all' (default), iterations (e.g. 0 10 20 or 0,10,20), or 'checkpoint' "
                        "for the run's last checkpoint.pt")
    p.add_argument("--starts", type=int, default=16, help="start states from the env's reset (16)")
    p.add_argument("--horizon", type=int, help="look-ahead T (default: the policy's planning horizon)")
    p.add_argument("--component", nargs="+", metavar="IDX",
                   help="state indices to measure (e.g. 1), or 'task' for the task's declared "
                        "coordinate; default: the full state")
    p.add_argument("--seed", type=int, default=0, help="start i uses env.reset(seed=SEED+i)")
    p.add_argument("--out", type=path_text, help="PNG path (default RUN/model_error.png); .json and .csv beside it")
    p.add_argument("--logy", action="store_true", help="logarithmic error axis")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    return p


# --- the run folder ---------------------------------------------------------------------------

def load_config(folder: Path) -> Config:
    """The run's resolved config, read exactly as `--resume` reads it (its `run.imports`
    imported first)."""
    run_folder = RunFolder(folder)
    if not run_folder.config_file.is_file():
        raise UserInputError(f"{folder} is not a run folder (no config.toml)")
    config = resume_config(run_folder.read_config())
    config.run.out = str(folder)
    return config


def find_snapshots(folder: Path, wanted: Sequence[str]) -> list[Path]:
    """Snapshot files for 'all', a list of iterations, or 'checkpoint'."""
    items = [w for item in wanted for w in item.split(",") if w.strip()]
    if items == ["checkpoint"]:
        return [RunFolder(folder).checkpoint_file]
    found = RunFolder(folder).snapshots()
    if not found:
        raise UserInputError(f"{folder} has no snapshots (snapshots/iter_*.pt; runs write them "
                             f"every run.snapshot_every iterations); try --snapshots checkpoint")
    if items == ["all"]:
        return [found[k] for k in sorted(found)]
    paths = []
    for item in items:
        try:
            iteration = int(item)
        except ValueError:
            raise UserInputError(f"--snapshots expects 'all', 'checkpoint' or iteration numbers, "
                                 f"got {item!r}") from None
        if iteration not in found:
            raise UserInputError(f"no snapshot for iteration {iteration}; available: "
                                 f"{', '.join(map(str, sorted(found)))}")
        paths.append(found[iteration])
    return paths


def component_from_args(values: Optional[Sequence[str]], task_name: str, obs_dim: int,
                        angle_dims: Sequence[int] = ()) -> Component:
    if not values:
        return resolve_component(None, obs_dim, angle_dims)
    if list(values) == ["task"]:
        declared = task_component(task_name)
        if declared is None:
            raise UserInputError(f"task {task_name!r} declares no component; pass state indices")
        return declared
    try:
        indices = [int(v) for item in values for v in item.split(",") if v.strip()]
    except ValueError:
        given = " ".join(values)
        raise UserInputError(f"--component expects state indices or 'task', got {given}") from None
    return resolve_component(indices, obs_dim, angle_dims)


# --- evaluation -------------------------------------------------------------------------------

def diagnose(folder: Path, snapshots: Sequence[Path], starts: int, horizon: Optional[int],
             component_args: Optional[Sequence[str]], seed: int) -> tuple[list[dict], str]:
    """Rebuild the task and players as `stackelberg.cli.run` does, load each snapshot, measure."""
    from stackelberg.runner.players import build_players
    from stackelberg.runner.run_folder import load_checkpoint, unreadable_reason

    config = load_config(folder)
    task = tasks.make(config.run.task)
    component = component_from_args(component_args, task.name, task.obs_dim, task.angle_dims)
    policy, model = build_players(config, task, "cpu")
    stages = []
    for path in snapshots:
        try:
            state = load_checkpoint(path)
            policy.load_state_dict(state["policy"])
            model.load_state_dict(state["model"])
        except Exception as err:  # truncated, foreign or mismatched file: name it, do not guess
            raise UserInputError(f"cannot load {path}: {unreadable_reason(err)}") from None
        iteration = int(state["iteration"]) - (1 if path.name == CHECKPOINT else 0)
        result = model_error_amplification(policy, model, task, starts, horizon, component, seed,
                                           config.npg.action_clamp)
        stages.append({"iteration": iteration, "samples": int(state["samples"]),
                       "snapshot": str(path), "result": result})
    title = f"{config.run.algo.upper()} on {config.run.task} (seed {config.run.seed})"
    return stages, title


# --- outputs ----------------------------------------------------------------------------------

def write_numbers(stages: list[dict], json_path: Path, csv_path: Path, title: str = "") -> None:
    payload = [{k: v for k, v in s.items() if k != "result"} | {"title": title}
               | s["result"].to_dict() for s in stages]
    json_path.write_text(json.dumps(payload, indent=1))
    members = stages[0]["result"].open_loop.shape[0]
    with open(csv_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["iteration", "samples", "loop", "t", "alive", "mean", "min", "max"]
                        + [f"member_{e}" for e in range(members)])
        for s in stages:
            r: ErrorAmplification = s["result"]
            for loop, per in (("open", r.open_loop), ("closed", r.closed_loop)):
                for t in range(r.horizon + 1):
                    col = per[:, t]
                    writer.writerow([s["iteration"], s["samples"], loop, t, int(r.alive[t]),
                                     col.mean().item(), col.min().item(), col.max().item()]
                                    + col.tolist())


def read_numbers(path: Path) -> tuple[list[dict], str]:
    """The stages and title of a JSON that `write_numbers` wrote: a figure from records."""
    try:
        payload = json.loads(path.read_text())
        stages = [{"iteration": int(d["iteration"]), "samples": int(d["samples"]),
                   "result": ErrorAmplification.from_dict(d)} for d in payload]
    except OSError as err:
        raise UserInputError(f"cannot read {path}: {err.strerror or err}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UserInputError(f"{path} is not a diagnose JSON ({type(err).__name__}: {err})") from None
    if not stages:
        raise UserInputError(f"{path} holds no stages")
    return stages, str(payload[0].get("title") or path.stem)


def plot_stages(stages: list[dict], path: Path, title: str, logy: bool = False) -> None:
    """[P] Figure 6 layout: a panel per training stage, error vs look-ahead, open vs closed."""
    plot_rows([(title, stages)], path, f"Model error amplification, {title}", logy)


def plot_rows(rows: Sequence[tuple[str, list[dict]]], path: Path, title: str,
              logy: bool = False) -> None:
    """One run's stages wrap 4 to a row; several runs get a row each (PAL above MAL, as [P])."""
    from stackelberg.runner.plots import pyplot

    plt = pyplot()
    if len(rows) == 1:
        stages = rows[0][1]
        cols = min(len(stages), 4)
        grid = [stages[i:i + cols] for i in range(0, len(stages), cols)]
        names = [""] * len(grid)
    else:
        cols = max(len(stages) for _, stages in rows)
        grid = [stages for _, stages in rows]
        names = [name for name, _ in rows]
    horizons = {stage["result"].horizon for stages in grid for stage in stages}
    fig, axes = plt.subplots(len(grid), cols, figsize=(max(3.8 * cols, 6.0), 3.0 * len(grid) + 0.8),
                             sharex=True if len(horizons) == 1 else "row", sharey=True, squeeze=False)
    for ax_row, stages, name in zip(axes, grid, names):
        for ax, stage in zip(ax_row, stages):
            draw_stage(ax, stage, name, logy)
        for ax in ax_row[len(stages):]:
            ax.set_visible(False)
    first = grid[0][0]["result"]
    for ax, stages in zip(axes[:, 0], grid):  # runs of different tasks measure different parts
        ax.set_ylabel(f"E||s_t^W - s_t^M||, {stages[0]['result'].component}")
    axes[0, 0].legend(fontsize=9)
    fig.suptitle(f"{title}\n{first.starts} starts from the env's reset; "
                 f"line = mean of {first.open_loop.shape[0]} members, band = min-max", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def draw_stage(ax: Any, stage: dict, name: str, logy: bool) -> None:
    """One panel: open and closed loop, member mean and min-max band."""
    r: ErrorAmplification = stage["result"]
    t = torch.arange(r.horizon + 1).numpy()
    for loop, per, color in (("open loop", r.open_loop, "tab:red"),
                             ("closed loop", r.closed_loop, "tab:blue")):
        ax.plot(t, per.mean(0).numpy(), color=color, label=loop)
        ax.fill_between(t, per.min(0).values.numpy(), per.max(0).values.numpy(), color=color,
                        alpha=0.2, linewidth=0)
    ended = (r.alive < r.starts).nonzero()
    if len(ended):  # later points average over fewer starts: jumps there are not dynamics
        ax.axvline(int(ended[0]), color="gray", ls=":", lw=1, label="first real termination")
    prefix = f"{name}: " if name else ""
    ax.set_title(f"{prefix}iter {stage['iteration']}, {stage['samples']:,} samples", fontsize=10)
    ax.set_xlabel("look-ahead t (steps)")
    ax.tick_params(labelbottom=True)  # sharex hides them above a hidden (empty) panel
    ax.grid(alpha=0.3)
    if logy:
        ax.set_yscale("log")


# limits of the numeric flags: what a look-ahead measurement can use, not what argparse allows
MAX_STARTS, MAX_HORIZON, MAX_SEED = 100_000, 1_000_000, 2**32 - 1


def check_args(args: argparse.Namespace, folder: Path) -> Path:
    """Every flag and the run folder, before any measurement (which takes minutes); the
    figure's path."""
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not a run folder (no such directory)")
    if not RunFolder(folder).config_file.is_file():
        raise UserInputError(f"{folder} is not a run folder (no config.toml)")
    if not 1 <= args.starts <= MAX_STARTS:
        raise UserInputError(f"--starts must be >= 1 and <= {MAX_STARTS}, got {args.starts}")
    if args.horizon is not None and not 1 <= args.horizon <= MAX_HORIZON:
        raise UserInputError(f"--horizon must be >= 1 and <= {MAX_HORIZON}, got {args.horizon}")
    if not 0 <= args.seed <= MAX_SEED - args.starts + 1:
        raise UserInputError(f"--seed must be in [0, {MAX_SEED - args.starts + 1}] (start i uses "
                             f"seed SEED+i), got {args.seed}")
    if args.threads < 0:
        raise UserInputError(f"--threads must be >= 0 (0 = one thread), got {args.threads}")
    png = Path(args.out) if args.out else folder / "model_error.png"
    for path in (png, png.with_suffix(".json"), png.with_suffix(".csv")):
        check_output_file(path, "--out")
    return check_figure_path(png, "--out")


def stage_table(rows: Sequence[tuple[str, list[dict]]]) -> str:
    """Each stage's open- and closed-loop error, member mean, averaged over the look-ahead and
    at its last step that a start is still alive at: the numbers a reader compares in a figure."""
    lines = ["| run | iteration | samples | open loop, mean over t | closed loop, mean over t "
             "| t (last) | open loop at t | closed loop at t |", "|" + "---|" * 8]
    for name, stages in rows:
        for s in stages:
            r: ErrorAmplification = s["result"]
            o, c = r.curve("open"), r.curve("closed")
            last = int(r.alive.nonzero().max())
            lines.append(f"| {name} | {s['iteration']} | {s['samples']:,} | {o.nanmean():.3g} | "
                         f"{c.nanmean():.3g} | {last} | {o[last]:.3g} | {c[last]:.3g} |")
    return "\n".join(lines)


def replot(args: argparse.Namespace) -> Path:
    """--replot: the figure from diagnose JSONs alone (no run folder, no snapshot); prints the
    numbers as a table."""
    if args.run is not None:
        raise UserInputError("give a run folder or --replot JSON files, not both")
    if not args.out:
        raise UserInputError("--replot needs --out PNG (the figure to write)")
    if args.labels and len(args.labels) != len(args.replot):
        raise UserInputError(f"--labels needs one label per JSON: {len(args.replot)} JSON files, "
                             f"{len(args.labels)} labels")
    png = check_figure_path(check_output_file(Path(args.out), "--out"), "--out")
    rows = [read_numbers(Path(path)) for path in args.replot]
    labelled = [(label, stages) for label, (stages, _) in zip(args.labels, rows)] if args.labels \
        else [(title, stages) for stages, title in rows]
    make_output_dir(png.parent, "the folder of --out")
    title = "Model error amplification" + (f", {labelled[0][0]}" if len(labelled) == 1 else "")
    try:
        plot_rows(labelled, png, title, args.logy)
    except OSError as err:
        raise UserInputError(f"cannot write {err.filename or png}: {err.strerror or err}") from None
    print(stage_table(labelled))
    return png


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.replot:
        try:
            print(f"wrote {replot(args)}", file=sys.stderr)
        except UserInputError as err:
            return exit_with(err)
        return 0
    if args.run is None:
        return exit_with(UserInputError("give a run folder (or --replot JSON files with --out)"))
    folder = Path(args.run)
    try:
        png = check_args(args, folder)
        torch.set_num_threads(max(args.threads, 1))
        snapshots = find_snapshots(folder, args.snapshots)
        stages, title = diagnose(folder, snapshots, args.starts, args.horizon, args.component,
                                 args.seed)
        make_output_dir(png.parent, "the folder of --out")
        try:
            write_numbers(stages, png.with_suffix(".json"), png.with_suffix(".csv"), title)
            plot_stages(stages, png, title, args.logy)
        except OSError as err:
            raise UserInputError(f"cannot write {err.filename or png}: {err.strerror or err}") from None
    except UserInputError as err:
        return exit_with(err)
    except OSError as err:  # a path the OS refuses to look at (a name too long)
        return exit_with(from_os_error(err))
    for s in stages:
        r = s["result"]
        o, c = r.curve("open"), r.curve("closed")
        last = int(r.alive.nonzero().max())
        print(f"iter {s['iteration']:4d} ({s['samples']} samples): L(t={last}) open {o[last]:.4g}, "
              f"closed {c[last]:.4g}; mean over t open {o.nanmean():.4g}, closed {c.nanmean():.4g}")
    print(f"wrote {png}, {png.with_suffix('.json')}, {png.with_suffix('.csv')}", file=sys.stderr)
    return 0
