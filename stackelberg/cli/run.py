"""`python -m stackelberg.run`: play one game (PAL, MAL, GDA or BR) on a task.

Config precedence: the algorithm's defaults < `--config FILE.toml` < command-line flags.
`--resume` continues a run folder from its checkpoint with the folder's own config.toml; it may
change the knobs declared resumable (the budget, step sizes, how often to save), which act from the
next iteration on, and refuses any other change by name. Every bad input, here and in a run
folder, is one line on stderr and exit code 2, before anything in the folder is written.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import re
import shlex
import sys
import time
import typing
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from stackelberg import tasks
from stackelberg.config import (RENAMED_KEYS, Config, check_device, config_changes,
                                config_from_record, config_record, config_to_toml, keys_where, load_toml,
                                record_keys, refuse_unresumable, resolve_config, resumable_keys,
                                resume_config)
from stackelberg.core.errors import NonFiniteError, UserInputError, check_output_dir, exit_with, from_os_error, make_output_dir
from stackelberg.cli.args import ArgumentParser, path_text
from stackelberg.core.registry import model_entry, model_players, policy_entry, policy_players
from stackelberg.core.schedules import SCHEDULES, Schedule
from stackelberg.runner.process import prepare_process
from stackelberg.runner.run_folder import (FOREIGN_CHECKPOINT, RunFolder, RunRecorder,
                                           fallback_warnings, foreign_reason, no_usable_checkpoint,
                                           readable_checkpoints)
from stackelberg.runner.stop_rule import parse_stop_at, target_bin
from stackelberg.runner.tensorboard_log import TensorBoardLog, require_tensorboard

LEADERS = {"policy": "pal", "model": "mal"}
SCHEDULE_KNOBS = [f.name for f in dataclasses.fields(Schedule) if f.name != "name"]
# the flags that set a config key (besides the schedule knobs' own flags)
FLAG_KEYS = {"task": "run.task", "samples": "run.samples", "seed": "run.seed", "out": "run.out",
             "device": "run.device", "threads": "run.threads", "policy": "run.policy",
             "model_player": "run.model_player", "eval_episodes": "run.eval_episodes",
             "tensorboard": "run.tensorboard", "perturb": "run.perturb",
             "render_every": "run.render_every",
             **{"schedule_" + name: "schedule." + name for name in SCHEDULE_KNOBS}}


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m stackelberg.run",
        description="Model-based RL as a Stackelberg game (Rajeswaran, Mordatch, Kumar 2020).")
    p.add_argument("--leader", choices=sorted(LEADERS),
                   help="policy = PAL (policy as leader), model = MAL (model as leader)")
    p.add_argument("--algo", choices=sorted(SCHEDULES), help="game solver (default pal)")
    # names are checked once --import'ed modules have registered theirs
    p.add_argument("--task", help=f"task (default inverted-pendulum): {', '.join(tasks.names())}, "
                                  f"or one an --import'ed module registers")
    p.add_argument("--policy",
                   help=f"policy player (default {Config().run.policy}, [P]'s NPG): "
                        f"{', '.join(policy_players())}, or one an --import'ed module registers; "
                        f"its own defaults (say, MBPO's schedule) apply under --config and flags")
    p.add_argument("--model-player",
                   help=f"model player: {', '.join(model_players())}, or one an --import'ed "
                        f"module registers; auto (default) = the policy player's own")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import MODULE first (repeatable): your own tasks and players register "
                        "themselves on import (tasks.register, register_policy_player, "
                        "register_model_player); recorded as run.imports, so --resume, sweep "
                        "cells and diagnose import it again")
    p.add_argument("--samples", type=int, help="real environment steps to collect (default 10000)")
    p.add_argument("--seed", type=int, help="0 to 4294967295 (default 0)")
    p.add_argument("--out", type=path_text, help="output folder (default runs/out/<task>-<algo>-s<seed>-<time>)")
    p.add_argument("--config", type=path_text, help="TOML file with [run], [schedule] and the players' sections ([npg], [model], ...)")
    p.add_argument("--device", help="cpu or cuda")
    p.add_argument("--threads", type=int, help="torch CPU threads (0 = all cores)")
    p.add_argument("--eval-episodes", type=int)
    p.add_argument("--perturb", action="append", metavar="KIND@SAMPLES[:KEY=VALUE,...]",
                   help="change the world once SAMPLES samples are collected (repeatable): "
                        "dynamics@10000, dynamics@10000:target=forearm,scale=1.3, "
                        "dynamics@5000:target=mass,scale=1.5,body=torso, "
                        "dynamics@5000:target=damping,scale=2, goals@8000")
    knobs = p.add_argument_group("schedule knobs (override the algorithm's defaults)")
    for name in SCHEDULE_KNOBS:
        keys = ["schedule." + name] + [old for old, new in RENAMED_KEYS.items()
                                       if new == "schedule." + name]  # older names stay flags
        flags = ["--" + key.partition(".")[2].replace("_", "-") for key in keys]
        knobs.add_argument(*flags, dest="schedule_" + name, metavar="V", help=_knob_help(name))
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set npg.delta=0.02 (repeatable)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log every metric to <out>/tensorboard (needs the tensorboard package)")
    p.add_argument("--render-every", type=int, metavar="K",
                   help="a video of one episode every K iterations into <out>/videos (0 = off, "
                        "the default; stackelberg.render)")
    p.add_argument("--stop-at", metavar="METRIC=VALUE",
                   help="end the run once a complete run.stop_window-sample bin (default 10000) "
                        "of evaluations has a mean METRIC >= VALUE, e.g. eval_success=0.9 "
                        "(METRIC: eval_return or eval_success); default: the whole budget")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint, with its own config; "
                        "--samples may extend the budget, and --set (or a knob's flag) may change "
                        f"{', '.join(sorted(resumable_keys(Config()) - {'run.samples'}))}")
    return p


def _knob_help(name: str) -> str:
    default = getattr(Schedule(), name)
    hint = {"buffer_capacity": " ('none' = unbounded)",
            "samples_per_iteration": " ('none' = min(multiple*H, cap))"}.get(name, "")
    return f"PAL default {default}{hint}"


def _set_items(items: Sequence[str]) -> list[tuple[str, str]]:
    """`--set` items as (key, value) pairs."""
    pairs = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserInputError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        pairs.append((key.strip(), value.strip()))
    return pairs


def overrides_from_args(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """The command line as (section.key, value) overrides, in precedence order: the algorithm,
    the flags, then `--set` items (last wins)."""
    overrides: list[tuple[str, Any]] = []
    algo = args.algo
    if args.leader:
        algo = LEADERS[args.leader]
        if args.algo and args.algo != algo:
            raise UserInputError(f"--leader {args.leader} means --algo {algo}, "
                                 f"but --algo {args.algo} was given; pass one of them")
    if algo is not None:
        overrides.append(("run.algo", algo))
    if args.imports:
        overrides.append(("run.imports", tuple(args.imports)))
    for flag, key in FLAG_KEYS.items():
        value = getattr(args, flag)
        if value is not None and value is not False:  # 0 is a value (and refused as a budget)
            overrides.append((key, tuple(value) if flag == "perturb" else value))
    if args.stop_at is not None:
        metric, value = parse_stop_at(args.stop_at)
        overrides += [("run.stop_metric", metric), ("run.stop_value", value)]
    return overrides + _set_items(args.set)


def config_from_args(args: argparse.Namespace) -> Config:
    """The config of a new run from its command line (`resolve_config` on the `--config`
    file's data and the flags): no file is written before this passes."""
    file_data = load_toml(args.config) if args.config else {}
    overrides = overrides_from_args(args)
    given = file_data.get("run")
    file_run: dict[str, Any] = given if isinstance(given, dict) else {}
    algo = next((v for k, v in overrides if k == "run.algo"), None) if (args.algo or args.leader) \
        else file_run.get("algo", "pal")
    for key, value in _set_items(args.set):
        if key in ("run.algo", "schedule.name") and str(value).lower() != str(algo).lower():
            raise UserInputError(f"set the algorithm with --algo (or --leader), not --set {key}")
    return resolve_config(file_data, overrides)


def resolve_resume(args: argparse.Namespace) -> Config:
    """The config a run was started with (its config.toml, validated), with the changes the
    resume asks for (`--samples`, `--set KEY=VALUE`, a knob's flag); any change of a knob not
    declared resumable is refused by name."""
    if not args.out:
        raise UserInputError("--resume needs --out <run folder>")
    if args.config:
        raise UserInputError("--resume uses the run's own config.toml; drop --config (change a "
                             "knob with --set SECTION.KEY=VALUE)")
    folder = RunFolder(args.out)
    if not folder.path.is_dir():
        what = "is a file, not a run folder" if folder.path.exists() else "does not exist"
        raise UserInputError(f"{folder.path} {what}: no run to resume")
    if not folder.config_file.is_file():  # a missing checkpoint is handled by `play`
        raise UserInputError(f"{folder.path} has no config.toml and checkpoint.pt to resume from")
    saved = folder.read_config()
    overrides = [(k, v) for k, v in overrides_from_args(args) if k != "run.out"]
    if args.imports:  # the run imports its own modules; naming them again changes nothing
        overrides = [(k, v) for k, v in overrides if k != "run.imports"]
    started = folder.checkpoint_file.exists() or folder.previous_checkpoint_file.exists()
    config = resume_config(saved, overrides, started=started)
    config.run.out = str(folder.path)
    return config


def _out_dir(config: Config) -> Path:
    """The new run's folder: writable, and not holding a run already (any file a run writes
    counts, so a run killed in its first iteration is not overwritten either)."""
    if config.run.out is not None:
        out = check_output_dir(config.run.out, "--out")
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs/out") / f"{config.run.task}-{config.run.algo}-s{config.run.seed}-{stamp}"
    check_output_dir(out, "--out")
    held = RunFolder(out).held_files()
    if held:
        raise UserInputError(f"{out} already holds a run ({held[0]}); resume it with --resume "
                             f"--out {quote(out)}, or choose another --out")
    return out


_device = check_device


def quote(path: str | Path) -> str:
    """A path as a shell word: a suggested command can be pasted as it is."""
    return shlex.quote(str(path))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return _main(args)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM before training began (the loop has its own)
        out = Path(args.out) if args.out else None
        if out is not None and RunFolder(out).held_files():
            then = f"start it with python -m stackelberg.run --resume --out {quote(out)}"
        else:
            then = "nothing was written"
        print(f"\ninterrupted during start-up, before training began; {then}", file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    changes: dict[str, tuple[Any, Any]] = {}
    try:
        if args.resume:
            config = resolve_resume(args)
            out = Path(str(config.run.out))
            changes = config_changes(RunFolder(out).read_config(), config)
        else:
            config = config_from_args(args)
            out = _out_dir(config)
        device = _device(config.run.device)
        if config.run.tensorboard:
            require_tensorboard()
    except UserInputError as err:
        return exit_with(err)
    except OSError as err:  # a path the OS refuses to look at (a name too long)
        return exit_with(from_os_error(err))
    return play(config, device, out, progress=not args.no_progress, resume=args.resume,
                changes=changes)


def _optimizers(*roots: object) -> list[torch.optim.Optimizer]:
    """Every optimizer a player holds, found through the attributes of its modules and of this
    package's objects (players keep theirs in different places)."""
    found, seen, stack = [], set(), list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.optim.Optimizer):
            found.append(obj)
        elif isinstance(obj, torch.nn.Module) or type(obj).__module__.startswith("stackelberg"):
            stack.extend(vars(obj).values())
            if isinstance(obj, torch.nn.Module):
                stack.extend(obj.children())
    return found


def load_game_state(game: Any, state: dict) -> None:
    """`game.load_state_dict(state)`, keeping the optimizers' step sizes (lr, weight decay) the
    config gave the freshly built players: a checkpoint's optimizer state would otherwise bring
    back the old ones, and `--resume --set model.lr=...` would change nothing. With an unchanged
    config they are the checkpoint's own values, so a plain resume stays exact."""
    configured = [(opt, [{str(k): g[k] for k in ("lr", "weight_decay") if k in g}
                         for g in opt.param_groups])
                  for opt in _optimizers(game.policy, game.model)]
    game.load_state_dict(state)
    for opt, groups in configured:
        for group, values in zip(opt.param_groups, groups):
            group.update(values)


def _nonfinite(tree: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in a (nested) state dict that hold NaN or inf,
    leaving out optimizer state (its moments follow the parameters)."""
    if isinstance(tree, torch.Tensor):
        bad = tree.is_floating_point() and not bool(torch.isfinite(tree).all())
        return [prefix] if bad else []
    if isinstance(tree, dict):
        return [name for key, value in tree.items() if "optimizer" not in str(key)
                for name in _nonfinite(value, f"{prefix}.{key}" if prefix else str(key))]
    if isinstance(tree, (list, tuple)):
        return [name for i, value in enumerate(tree) for name in _nonfinite(value, f"{prefix}.{i}")]
    return []


def knob_to_lower(err: NonFiniteError, game: Any, config: Config) -> Optional[str]:
    """The step size to lower after a divergence: the one the registry names for the player
    whose parameters went non-finite (`diverge_knobs`), else the one the error names."""
    try:
        model_bad = _nonfinite(game.model.state_dict())
        policy_bad = _nonfinite(game.policy.state_dict())
    except Exception:  # a player that cannot even report its state: go by the message
        model_bad, policy_bad = [], []
    knob = None
    if model_bad:
        knob = model_entry(config.model_player).blamed_knob(model_bad)
    elif policy_bad:
        knob = policy_entry(config.run.policy).blamed_knob(policy_bad)
    if knob is not None:
        return knob
    named = re.search(r"\blower ([a-z_]+\.[a-z_]+)", str(err))
    return named.group(1) if named else None


def divergence_message(err: NonFiniteError, game: Any, config: Config, out: Path,
                       saved: Optional[tuple[int, int]]) -> str:
    """What diverged, what is kept (the checkpoint only if one was written: `saved` is its
    (iterations, samples)) and the command that goes on with a smaller step."""
    lines = [f"error: training diverged: {err}"]
    folder = RunFolder(out)
    if saved is not None:
        lines.append(f"The last good checkpoint is {folder.checkpoint_file} ({saved[0]} "
                     f"iterations, {saved[1]} samples); every collected transition is in "
                     f"{folder.data_dir}.")
    else:
        lines.append(f"It diverged in its first iteration, before any checkpoint was written; "
                     f"the transitions it collected are in {folder.data_dir}.")
    knob = knob_to_lower(err, game, config)
    section, _, name = (knob or "").partition(".")
    value = getattr(config.section(section), name, None) if knob else None
    if knob in resumable_keys(config) and isinstance(value, float):
        start = "go on" if saved is not None else "start again"
        lines.append(f"To {start} with a smaller step: python -m stackelberg.run --resume "
                     f"--out {quote(out)} --set {knob}={value / 2:g}")
    return "\n".join(lines)


def _restore(game: Any, task: Any, out: Path, config: Config, changes: dict[str, tuple[Any, Any]]
             ) -> tuple[Optional[Path], Optional[dict], list[str]]:
    """Load the run folder's newest checkpoint that is readable and this folder's into `game`
    (checkpoint.pt, else checkpoint_prev.pt with a warning) after checking that the folder is
    whole: the budget not below what is done, config.toml as the checkpoint was made with (a
    resumable change made by editing it is added to `changes`, to be said and logged like a
    `--set`), every data file there. Raises `UserInputError` before anything is written."""
    folder = RunFolder(out)
    found, problems = readable_checkpoints(out)
    if not found:
        if problems:
            raise no_usable_checkpoint(out, problems)
        return None, None, []
    for path, state in found:
        foreign = foreign_reason(out, state)
        if foreign is not None:  # another run's file: the previous checkpoint may be this run's
            kept = f" (kept as {FOREIGN_CHECKPOINT})" if path == folder.checkpoint_file else ""
            problems.append(f"{path} is not this folder's run{kept}: {foreign}")
            continue
        # this run's checkpoint: a folder or config.toml that does not fit it is refused
        edited = _check_checkpoint(path, state, task, folder, config, changes)
        load_game_state_or_refuse(game, state, path, out)
        changes.update(edited)
        return path, state, fallback_warnings(problems, path, state)
    raise UserInputError("; ".join(problems).replace(f" (kept as {FOREIGN_CHECKPOINT})", "")
                         + ". No checkpoint of this folder's run: put its own checkpoint.pt "
                         "back, or start a new run")


def _check_checkpoint(path: Path, state: dict, task: Any, folder: RunFolder, config: Config,
                      changes: dict[str, tuple[Any, Any]]) -> dict[str, tuple[Any, Any]]:
    """Refuse a checkpoint the folder and config do not fit; the resumable changes made by
    editing config.toml since the checkpoint (key -> (checkpoint's value, config.toml's))."""
    done = int(state["samples"])
    if "run.samples" in changes and config.run.samples < done:
        raise UserInputError(f"{folder.path} has {done} samples done already; --samples "
                             f"{config.run.samples} would cut its budget below them (give at "
                             f"least {done} to extend it)")
    recorded = state.get("config")
    edited: dict[str, tuple[Any, Any]] = {}
    if isinstance(recorded, dict):  # a checkpoint that keeps the config it was made with
        made_with = config_from_record(recorded, lenient=True)
        kept = record_keys(recorded)
        edited = {k: v for k, v in config_changes(made_with, config).items()
                  if k in kept and k not in changes}
        refuse_unresumable(edited, f"{folder.config_file} was edited since {path.name}: it")
    folder.check_data_files(state, task)
    return edited


def load_game_state_or_refuse(game: Any, state: dict, path: Path, out: Path) -> None:
    """`load_game_state`, with a checkpoint whose shapes or keys do not fit the players the
    config builds as a `UserInputError`."""
    try:
        load_game_state(game, state)
    except UserInputError:
        raise
    except Exception as err:  # shapes or keys that do not fit: config.toml was edited
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        config_file = RunFolder(out).config_file
        raise UserInputError(f"{path} does not fit {config_file} ({reason}); was "
                             f"{config_file.name} edited? Restore it, or start a new run") from None


def _build(build_players: Any, config: Config, task: Any, device: torch.device) -> tuple:
    """The players, or a `UserInputError`: a config/task mismatch, or sizes too large to
    allocate (validation bounds each number, not the memory they add up to)."""
    try:
        return build_players(config, task, device)
    except UserInputError:
        raise
    except (RuntimeError, MemoryError, OverflowError, ValueError) as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise UserInputError(f"cannot build the players this config asks for ({reason}); check "
                             "its sizes (hidden_sizes, ensemble_size)") from None


def stop_target(rows: Sequence[dict], run: Any) -> Optional[tuple[int, float]]:
    """The bin that met the run's `--stop-at` target, if it has one and a bin has met it."""
    if not run.stop_metric:
        return None
    return target_bin(rows, run.stop_metric, run.stop_value, run.stop_window)


def play(config: Config, device: torch.device, out: Path, progress: bool = True,
         resume: bool = False, changes: Optional[dict[str, tuple[Any, Any]]] = None) -> int:
    """Run (or resume) the game into `out`; the exit code (0 done, 1 diverged, 2 bad input,
    130 interrupted)."""
    from tqdm import tqdm

    from stackelberg.core.game import Game
    from stackelberg.runner.players import build_players

    changes = changes or {}
    run = config.run
    lock, created = None, not out.exists()
    try:
        prepare_process(run.threads, run.flush_denormal, run.seed)
        task = tasks.make(run.task)
        if run.plot_every:
            # import matplotlib now, not at the first plot: a stop signal that lands inside its
            # C-extension initialisation surfaces as ImportError, not as an interrupt
            import stackelberg.runner.plots  # noqa: F401
        if run.stop_metric == "eval_success" and getattr(task, "success_fn", None) is None:
            raise UserInputError(f"--stop-at eval_success: task {run.task} has no success test; "
                                 f"stop at eval_return instead")
        policy, model = _build(build_players, config, task, device)
        lock = lock_run_folder(out, resume)  # held until this process ends, however it ends
        RunFolder(out).check_writable()
        game = Game(task, policy, model, config.schedule, seed=run.seed, perturbations=run.perturb,
                    eval_episodes=run.eval_episodes, device=device)
        state: Optional[dict] = None
        warnings: list[str] = []
        checkpoint_path: Optional[Path] = None
        if resume:
            # checkpoint.pt, else checkpoint_prev.pt with a warning; none at all means the run
            # was stopped in its first iteration, and starting it again is exact
            checkpoint_path, state, warnings = _restore(game, task, out, config, changes)
    except (UserInputError, KeyboardInterrupt) as err:
        if lock is not None:
            lock.close()
            lock_file = RunFolder(out).lock_file
            if created and [p.name for p in out.iterdir()] == [lock_file.name]:  # leave no trace
                lock_file.unlink()
                out.rmdir()
        if isinstance(err, KeyboardInterrupt):
            raise
        return exit_with(err)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if resume and state is None:
        print(f"note: {out} has no checkpoint yet; starting the run from the beginning",
              file=sys.stderr)
        state = {"metrics": [], "best_return": -math.inf}
    folder = RunFolder(out)
    if checkpoint_path is not None and checkpoint_path != folder.checkpoint_file:
        # checkpoint.pt goes (another run's is kept aside), so the next save keeps the one
        # resumed from as checkpoint_prev.pt, as an uninterrupted run would have it
        folder.set_aside_checkpoint()
    name = policy_entry(run.policy).run_label(run.algo)
    recorder = RunRecorder(out, config_to_toml(config), f"{name} on {run.task} (seed {run.seed})",
                           score_name=task.score_name, record=config_record(config))
    game.on_collect = recorder.save_data
    if resume and state is not None:
        recorder.restore(state)
        _log_changes(out, changes, game, keys_where(config, "incidental"))
    saved = (game.iteration, game.samples) if resume and game.iteration else None
    board = TensorBoardLog(folder.tensorboard_dir, game.samples if resume else None) \
        if run.tensorboard else None
    bar = tqdm(total=run.samples, initial=game.samples, unit="samples", disable=not progress,
               dynamic_ncols=True)
    verb = f"resuming at {game.samples} samples" if resume else f"{run.samples} samples"
    print(f"{name} on {run.task}, {verb}, seed {run.seed} -> {out}", file=sys.stderr)
    code = 0
    reached = stop_target(recorder.rows, run) if resume else None
    try:
        before = game.samples
        for report in ([] if reached else game.play(run.samples)):
            reached = stop_target([*recorder.rows, report.row()], run)
            last = game.samples >= run.samples or reached is not None
            recorder.save_iteration(game, report, checkpoint_every=run.checkpoint_every,
                            snapshot_every=run.snapshot_every, plot_every=run.plot_every,
                            last=last)
            if board is not None:
                board.log(recorder.rows[-1])
            if report.iteration % run.checkpoint_every == 0 or last:
                saved = (game.iteration, game.samples)
            if run.render_every > 0 and report.iteration % run.render_every == 0:
                from stackelberg.analysis.render import video_during_training
                video_during_training(game, out, report.iteration, run.seed)
            bar.update(game.samples - before)
            before = game.samples
            postfix = {"return": f"{report.eval_return:.1f}", "J(pi,M)": f"{report.model_return:.1f}",
                       "s/iter": f"{report.seconds:.1f}"}
            if not math.isnan(report.eval_success):
                postfix["success"] = f"{report.eval_success:.0%}"
            bar.set_postfix(postfix)
            if reached:
                break
    except NonFiniteError as err:
        bar.close()
        print("\n" + divergence_message(err, game, config, out, saved), file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        bar.close()
        where = f"the last at {saved[1]} samples" if saved else "none written yet"
        print(f"\ninterrupted; checkpoint and data are in {out} (checkpoint: {where}); "
              f"continue with python -m stackelberg.run --resume --out {quote(out)}",
              file=sys.stderr)
        code = 130
    finally:
        bar.close()
        if board is not None:
            board.close()
    if recorder.rows:
        try:
            recorder.plot()
        except KeyboardInterrupt:  # a second Ctrl-C during the final plot: the data is safe
            return 130
        # a stopped run goes on from its checkpoint: say where that is, not the last row
        kept = saved[1] if saved is not None else 0
        final = recorder.rows[-1] if code == 0 else \
            next((r for r in reversed(recorder.rows) if int(r["samples"]) <= kept), None)
        status = "done" if code == 0 else "stopped"
        if final is None:
            print(f"{status}: no checkpoint written yet (budget {run.samples}), metrics in "
                  f"{folder.metrics_file}", file=sys.stderr)
            lock.close()
            return code
        if reached and code == 0:
            start, mean = reached
            status = (f"target reached ({run.stop_metric} {mean:.4g} >= {run.stop_value:g} over "
                      f"the evaluations at {start}-{start + run.stop_window} samples; to go on, "
                      f"--resume --set run.stop_metric=); done")
        print(f"{status}: {final['samples']} samples (budget {run.samples}), eval return "
              f"{final['eval_return']:.1f}, metrics in {folder.metrics_file}", file=sys.stderr)
    lock.close()
    return code


def _log_changes(out: Path, changes: dict[str, tuple[Any, Any]], game: Any,
                 quiet: frozenset[str]) -> None:
    """Say which knobs this resume changed, on stderr and in config_changes.log (config.toml
    then holds only the new values); changes of `quiet` knobs (a budget, a machine setting)
    are not worth a line."""
    shown = {k: v for k, v in changes.items() if k not in quiet}
    if not shown:
        return
    text = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in shown.items())
    line = f"iteration {game.iteration} ({game.samples} samples): {text}"
    print(f"note: resuming with {text}", file=sys.stderr)
    RunFolder(out).log_change(line)


def lock_run_folder(out: Path, resume: bool = True) -> typing.TextIO:
    """An exclusive lock on `out/.lock`, so two processes (say, a sweep resuming a run that is
    still alive) never write one run folder. The OS drops it when the process dies. What the
    refusal advises depends on whether this process would `resume` the run or start one."""
    import fcntl

    make_output_dir(out, "run folder")
    try:
        handle = open(RunFolder(out).lock_file, "a")
    except OSError as err:
        raise UserInputError(f"cannot write into {out}: {err.strerror or err}") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        then = ("wait for it to end or stop it before resuming" if resume else
                "choose another --out for a new run")
        raise UserInputError(f"{out} is in use by another running process; {then}") from None
    return handle
