"""`python -m stackelberg.sweep RECIPE.toml`: run every cell of a recipe (tasks x algorithms x
seeds, see `stackelberg.cli.recipe`), locally in parallel processes or as Ray tasks.

The whole recipe is validated before any run starts. A cell is one `python -m stackelberg.run`
process writing to `<out>/<task>-<algo>-s<seed>` (its output goes to `run.log` there), so a
sweep can be stopped at any time and started again: cells whose checkpoint reached the budget
are skipped, the others are resumed (`--resume`), and resuming is exact. A cell's folder that
holds a run with another config is an error, not silently reused.
"""
from __future__ import annotations

import argparse
import csv
import fnmatch
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from stackelberg.config import Config, keys_where, load_saved_config
from stackelberg.core.errors import UserInputError, check_figure_path, error_line, check_output_dir, exit_with, from_os_error
from stackelberg.cli.args import ArgumentParser, finite_float, path_text
from stackelberg.cli.recipe import Cell, Recipe, load_recipe
from stackelberg.cli.stop_signal import Terminated

RAY_PIP = f"{sys.executable} -m pip install 'ray>=2.9'"


@dataclass(frozen=True)
class Job:
    """What a worker needs to run one cell (picklable, no torch objects)."""

    name: str
    folder: str
    start_argv: tuple[str, ...]
    resume_argv: tuple[str, ...]
    threads: int


@dataclass
class JobResult:
    name: str
    returncode: int
    resumed: bool
    start: float  # time.time() when the run's process started
    end: float  # ... and when it exited
    error: str = ""  # the job itself failed (not the run): why


def crashed(job: Job, err: BaseException) -> JobResult:
    now = time.time()
    return JobResult(job.name, -1, False, now, now, error_line(err))


@dataclass
class CellOutcome:
    """One row of the summary."""

    cell: str
    folder: Path
    status: str  # done (skipped) | ran | resumed | failed (exit N) | not run
    samples: Optional[int]
    final_return: Optional[float]
    seconds: Optional[float]  # wall-clock of the cell in this sweep
    start: Optional[float] = None
    end: Optional[float] = None


# --- planning -----------------------------------------------------------------------------
def cell_state(cell: Cell) -> tuple[str, Optional[int]]:
    """("new" | "resume" | "done", samples in its newest readable checkpoint).

    Completion is judged from the checkpoint, not metrics.csv: a run killed between writing
    its last metrics row and its last checkpoint still needs that iteration replayed."""
    from stackelberg.runner.run_folder import CheckpointError, RunFolder

    check_output_dir(cell.folder, f"cell {cell.name}: folder")
    folder = RunFolder(cell.folder)
    if not folder.config_file.is_file():
        held = folder.held_files()
        if held:  # what a run writes, but no config.toml: not a run this sweep can resume
            raise UserInputError(f"cell {cell.name}: {cell.folder} holds {held[0]} but no "
                                 "config.toml; remove that folder or choose another sweep.out")
        return "new", None
    try:
        assert cell.config is not None, "load_recipe resolves every cell"
        differences = config_differences(cell.config, folder.config_file)
    except UserInputError as err:
        raise UserInputError(f"cell {cell.name}: {err}") from None
    if differences:
        shown = "; ".join(differences[:3]) + ("; ..." if len(differences) > 3 else "")
        raise UserInputError(f"cell {cell.name}: {cell.folder} holds a run with another config "
                             f"({shown}); choose another sweep.out or remove that folder")
    try:
        _, state, _ = folder.latest_checkpoint()
    except CheckpointError as err:
        raise UserInputError(f"cell {cell.name}: {err}") from None
    samples = None if state is None else int(state["samples"])
    if samples is not None and samples >= cell.samples:
        return "done", samples
    return "resume", samples


def config_differences(expected: Config, saved_toml: Path) -> list[str]:
    """`section.key: saved -> expected` for every value the recipe would change. A budget, a
    machine setting (knobs declared incidental: the budget can be extended) and the folder's
    own path (unrecorded: it may have been moved) may differ."""
    saved = load_saved_config(saved_toml)
    old, new = saved.to_dict(), expected.to_dict()
    uncompared = keys_where(expected, "incidental") | \
        (frozenset(f"{s}.{k}" for s, values in new.items() for k in values)
         - keys_where(expected, "recorded"))
    return [f"{section}.{key}: {old.get(section, {}).get(key)!r} -> {value!r}"
            for section, values in new.items() for key, value in values.items()
            if f"{section}.{key}" not in uncompared and old.get(section, {}).get(key) != value]


def select_cells(recipe: Recipe, patterns: Sequence[str]) -> Recipe:
    """The cells whose names match any of the shell patterns (e.g. `dclaw-turn-pal-*`): run a
    part of a study now and the rest later, into the same folders."""
    if not patterns:
        return recipe
    names = [c.name for c in recipe.cells]
    unmatched = [p for p in patterns if not fnmatch.filter(names, p)]
    if unmatched:
        raise UserInputError(f"--only {unmatched[0]!r} matches no cell of {recipe.name}; its cells: "
                             f"{', '.join(names)}")
    return replace(recipe, cells=[c for c in recipe.cells
                                  if any(fnmatch.fnmatchcase(c.name, p) for p in patterns)])


def plan(recipe: Recipe) -> list[tuple[Cell, str, Optional[int]]]:
    return [(cell, *cell_state(cell)) for cell in recipe.cells]


# --- running one cell (in a thread of this process, or in a Ray worker) ---------------------
_running: set[subprocess.Popen] = set()  # the runs this process started and waits on
_running_lock = threading.Lock()
_stopping = threading.Event()  # set once the sweep was terminated: no run may start after it


def run_job(job: Job) -> JobResult:
    """Start or resume one cell as `python -m stackelberg.run`. Deciding here, from the folder,
    makes a retried job (e.g. by Ray after a lost worker) resume instead of failing."""
    from stackelberg.runner.run_folder import RunFolder

    folder = Path(job.folder)
    resumed = RunFolder(folder).config_file.is_file()
    argv = list(job.resume_argv if resumed else job.start_argv)
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": str(job.threads), "MKL_NUM_THREADS": str(job.threads)}
    with open(folder / "run.log", "a") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} python -m stackelberg.run "
                  f"{shlex.join(argv)}\n")
        log.flush()
        start = time.time()
        with subprocess.Popen([sys.executable, "-m", "stackelberg.run", *argv], env=env,
                              stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT) as proc:
            with _running_lock:
                _running.add(proc)
                if _stopping.is_set():  # started while the sweep was being stopped
                    proc.send_signal(signal.SIGTERM)
            try:
                proc.wait()
            finally:
                with _running_lock:
                    _running.discard(proc)
        end = time.time()
    return JobResult(job.name, proc.returncode, resumed, start, end)


def stop_running_cells() -> None:
    """SIGTERM to this process's runs: a SIGTERM sent to the sweep alone would leave them
    running. Each stops as after Ctrl-C, with its checkpoint and data on disk."""
    with _running_lock:
        _stopping.set()
        for proc in _running:
            proc.send_signal(signal.SIGTERM)  # Popen skips a process that has already ended


def run_local(jobs: Sequence[Job], workers: int, on_done=None) -> list[JobResult]:
    """Each cell is its own process; a thread pool only waits on them."""
    results = []
    _stopping.clear()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, job): job for job in jobs}
        try:
            for future in as_completed(futures):
                try:
                    results.append(future.result())
                except Exception as err:  # e.g. the folder cannot be created
                    results.append(crashed(futures[future], err))
                if on_done:
                    on_done(results[-1], len(results), len(jobs))
        except KeyboardInterrupt as stop:  # the runs stop too and keep their checkpoints
            if isinstance(stop, Terminated):  # Ctrl-C reached them already
                stop_running_cells()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results


def run_ray(jobs: Sequence[Job], threads: int, workers: Optional[int], address: Optional[str],
            on_done=None) -> list[JobResult]:
    """Each cell is a Ray task asking for `threads` CPUs. Run folders must be on a filesystem
    every node sees (the paths are absolute)."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        try:
            if address:
                ray.init(address=address)
            else:
                ray.init(include_dashboard=False)
        except Exception as err:  # no cluster at that address, etc.
            where = f"at {address}" if address else "locally"
            raise UserInputError(f"cannot start Ray {where}: {error_line(err)}") from None
    try:
        cpus = ray.cluster_resources().get("CPU", 0)
        if cpus < threads:
            raise UserInputError(f"the Ray cluster has {cpus:g} CPUs; a cell needs "
                                 f"threads = {threads}")
        task = ray.remote(num_cpus=threads)(run_job)
        queue, results = list(jobs), []
        pending: dict[Any, Job] = {}
        while queue or pending:
            while queue and (workers is None or len(pending) < workers):
                job = queue.pop(0)
                pending[task.remote(job)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    results.append(ray.get(ref))
                except Exception as err:  # the task failed (after Ray's retries)
                    results.append(crashed(job, err))
                if on_done:
                    on_done(results[-1], len(results), len(jobs))
        return results
    finally:
        if started_here:
            ray.shutdown()


# --- the summary --------------------------------------------------------------------------
def last_row(folder: Path) -> Optional[dict]:
    """The last row of a cell's metrics.csv; None if there is none or it cannot be read."""
    from stackelberg.runner.run_folder import RunFolder

    try:
        rows = RunFolder(folder).read_metrics()
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return rows[-1] if rows else None


def _cell_number(row: Optional[dict], key: str) -> Optional[float]:
    try:
        return float(row[key])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None


def outcome(cell: Cell, state: str, result: Optional[JobResult]) -> CellOutcome:
    row = last_row(cell.folder)
    count = _cell_number(row, "samples")
    samples = int(count) if count is not None and math.isfinite(count) else None
    final = _cell_number(row, "eval_return")
    if result is None:
        status = "done (skipped)" if state == "done" else "not run"
        return CellOutcome(cell.name, cell.folder, status, samples, final, None)
    if result.error:
        status = f"failed ({result.error})"
    elif result.returncode == 0:
        status = "resumed" if result.resumed else "ran"
    else:
        status = f"failed (exit {result.returncode})"
    return CellOutcome(cell.name, cell.folder, status, samples, final, result.end - result.start,
                       result.start, result.end)


def format_table(outcomes: Sequence[CellOutcome]) -> str:
    head = ["cell", "status", "samples", "final eval return", "seconds"]
    def number(value: Optional[float], form: str) -> str:
        return "-" if value is None or math.isnan(value) else format(value, form)

    rows = [[o.cell, o.status, number(o.samples, "d"), number(o.final_return, ".1f"),
             number(o.seconds, ".1f")] for o in outcomes]
    widths = [max(len(r[i]) for r in [head] + rows) for i in range(len(head))]

    def line(cells: list[str]) -> str:  # text columns left-aligned, numbers right-aligned
        return "  ".join(v.ljust(w) if i < 2 else v.rjust(w)
                         for i, (v, w) in enumerate(zip(cells, widths))).rstrip()

    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def write_summary(path: Path, outcomes: Sequence[CellOutcome]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["cell", "status", "samples", "final_eval_return", "seconds", "start",
                         "end"])
        for o in outcomes:
            writer.writerow([o.cell, o.status, o.samples, o.final_return, o.seconds, o.start,
                             o.end])


# --- the whole sweep ----------------------------------------------------------------------
def default_workers(threads: int) -> int:
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))  # the cores this process may use
    else:
        cores = os.cpu_count() or 1
    return max(1, cores // threads)


def check_backend(backend: str) -> None:
    if backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UserInputError(f"--backend ray needs Ray, which is not installed: {RAY_PIP} "
                                 "(or pip install -e '.[ray]')") from None


def run_sweep(recipe: Recipe, backend: str = "local", workers: Optional[int] = None,
              address: Optional[str] = None, log=print) -> list[CellOutcome]:
    """Run the cells that are not done; return one outcome per cell, in recipe order.
    Raises `UserInputError` before anything runs if a cell's folder cannot be used."""
    check_backend(backend)
    planned = plan(recipe)
    # absolute folders, so that a worker's working directory does not matter
    todo = [replace(c, folder=c.folder.resolve()) for c, state, _ in planned if state != "done"]
    jobs = [Job(c.name, str(c.folder), tuple(c.start_argv()), tuple(c.resume_argv()), c.threads)
            for c in todo]
    skipped = len(planned) - len(jobs)
    local_workers = min(workers or default_workers(recipe.threads), max(len(jobs), 1))
    workers_shown = local_workers if backend == "local" else workers or "as Ray schedules"
    log(f"sweep {recipe.name}: {len(planned)} cells, {skipped} done, {len(jobs)} to run "
        f"({backend}, workers {workers_shown}) -> {recipe.out}")

    def on_done(result: JobResult, count: int, total: int) -> None:
        verb = "resumed" if result.resumed else "ran"
        what = result.error or f"exit {result.returncode}"
        log(f"[{count}/{total}] {result.name}: {verb}, {what}, {result.end - result.start:.1f} s")

    results: list[JobResult] = []
    if jobs and backend == "local":
        results = run_local(jobs, local_workers, on_done)
    elif jobs:
        results = run_ray(jobs, recipe.threads, workers, address, on_done)
    by_name = {r.name: r for r in results}
    outcomes = [outcome(c, state, by_name.get(c.name)) for c, state, _ in planned]
    write_summary(recipe.out / "sweep_summary.csv", outcomes)
    return outcomes


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="python -m stackelberg.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("recipe", help="TOML recipe (see runs/*/*.toml)")
    p.add_argument("--backend", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int, help="cells at a time (local default: cores // threads)")
    p.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")
    p.add_argument("--out", type=path_text, help="write the cells here instead of the recipe's sweep.out")
    p.add_argument("--only", action="append", default=[], metavar="GLOB",
                   help="run only the cells whose names match (repeatable), e.g. "
                        "'dclaw-turn-pal-*'; the others are left as they are")
    p.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                   help="import MODULE first and in every cell (repeatable; adds to sweep.imports): "
                        "your own tasks and players")
    p.add_argument("--dry-run", action="store_true", help="validate and show the plan, run nothing")
    p.add_argument("--report", type=path_text, metavar="PNG", help="then plot all cells with stackelberg.analysis.report")
    p.add_argument("--target", type=finite_float,
                   help="with --report: the samples each seed needs to reach it")
    return p


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.workers is not None and args.workers < 1:
            raise UserInputError("--workers must be >= 1")
        if args.address and args.backend != "ray":
            raise UserInputError("--address is for --backend ray")
        check_backend(args.backend)
        if args.report:
            check_figure_path(args.report, "--report")
        recipe = select_cells(load_recipe(args.recipe, args.out, args.imports), args.only)
        check_output_dir(recipe.out, "the sweep's output folder (sweep.out or --out)")
        if args.dry_run:
            for cell, state, samples in plan(recipe):
                argv_ = cell.resume_argv() if state == "resume" else cell.start_argv()
                action = {"new": "start", "resume": f"resume at {samples or 0} samples",
                          "done": f"done ({samples} samples), skip"}[state]
                command = "  python -m stackelberg.run " + " ".join(argv_)
                print(f"{cell.name}: {action}{'' if state == 'done' else command}")
            return 0
        outcomes = run_sweep(recipe, args.backend, args.workers, args.address,
                             log=lambda msg: print(msg, file=sys.stderr, flush=True))
    except UserInputError as err:
        return exit_with(err)
    except OSError as err:  # a path the OS refuses to look at (a name too long)
        return exit_with(from_os_error(err))
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(format_table(outcomes))
    failed = [o for o in outcomes if o.status.startswith("failed")]
    for o in failed:
        print(f"{o.cell} failed; see {o.folder / 'run.log'}", file=sys.stderr)
    if args.report:
        from stackelberg.cli import report

        folders = [str(o.folder) for o in outcomes if last_row(o.folder)]
        extra = ["--target", str(args.target)] if args.target is not None else []
        if folders:
            report.main(folders + ["--plot", args.report, "--title", recipe.name] + extra)
    return 1 if failed else 0
