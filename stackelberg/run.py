"""`python -m stackelberg.run`: play one game (PAL, MAL, GDA or BR) on a task.

Config precedence: the algorithm's defaults < `--config FILE.toml` < command-line flags.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import typing
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

import tasks
from stackelberg.config import (MODEL_PLAYERS, POLICY_PLAYERS, Config, apply_dict, config_to_toml,
                                load_saved_config, load_toml, set_value, start_fraction_for)
from stackelberg.errors import NonFiniteError, UserInputError
from stackelberg.schedules import SCHEDULES, Schedule, make_schedule
from stackelberg.tensorboard_log import TensorBoardLog, require_tensorboard

LEADERS = {"policy": "pal", "model": "mal"}
SCHEDULE_KNOBS = [f.name for f in dataclasses.fields(Schedule) if f.name != "name"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m stackelberg.run",
        description="Model-based RL as a Stackelberg game (Rajeswaran, Mordatch, Kumar 2020).")
    p.add_argument("--leader", choices=sorted(LEADERS),
                   help="policy = PAL (policy as leader), model = MAL (model as leader)")
    p.add_argument("--algo", choices=sorted(SCHEDULES), help="game solver (default pal)")
    p.add_argument("--task", choices=tasks.names(), help="task (default inverted-pendulum)")
    p.add_argument("--policy", choices=POLICY_PLAYERS,
                   help="policy player: npg (default, [P]), mbpo (SAC on branched model rollouts; "
                        "the schedule knobs then default to MBPO's loop) or sac (model-free SAC "
                        "on real data, no model player)")
    p.add_argument("--model-player", choices=MODEL_PLAYERS,
                   help="model player: deterministic ensemble ([P]) or probabilistic (MBPO's); "
                        "auto (default) = the policy player's own")
    p.add_argument("--samples", type=int, help="real environment steps to collect (default 10000)")
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="output folder (default runs/out/<task>-<algo>-s<seed>-<time>)")
    p.add_argument("--config", help="TOML file with [run], [schedule], [model], [policy], [npg]")
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
        knobs.add_argument("--" + name.replace("_", "-"), dest="schedule_" + name, metavar="V",
                           help=_knob_help(name))
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override any config value, e.g. --set npg.delta=0.02 (repeatable)")
    p.add_argument("--tensorboard", action="store_true",
                   help="also log every metric to <out>/tensorboard (needs the tensorboard package)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out from its last checkpoint, with its own config "
                        "(--samples may extend the budget)")
    return p


def _knob_help(name: str) -> str:
    default = getattr(Schedule(), name)
    hint = {"buffer_capacity": " ('none' = unbounded)",
            "samples_per_iteration": " ('none' = min(multiple*H, cap))"}.get(name, "")
    return f"PAL default {default}{hint}"


def resolve_config(args: argparse.Namespace) -> Config:
    file_data = load_toml(args.config) if args.config else {}
    algo = args.algo or file_data.get("run", {}).get("algo", "pal")
    if args.leader:
        leader_algo = LEADERS[args.leader]
        if args.algo and args.algo != leader_algo:
            raise UserInputError(f"--leader {args.leader} means --algo {leader_algo}, "
                                 f"but --algo {args.algo} was given; pass one of them")
        algo = leader_algo
    config = Config()
    config.schedule = make_schedule(str(algo))
    requested_policy = _requested(args, file_data, "policy")
    if requested_policy == "mbpo":
        use_mbpo_defaults(config, str(_requested(args, file_data, "task") or config.run.task))
    elif requested_policy == "sac":
        use_sac_defaults(config)
    apply_dict(config, file_data)
    config.run.algo = config.schedule.name = str(algo).lower()
    for key in ("task", "samples", "seed", "out", "device", "threads", "policy", "model_player"):
        if getattr(args, key) is not None:
            set_value(config, f"run.{key}", getattr(args, key))
    if args.eval_episodes is not None:
        set_value(config, "run.eval_episodes", args.eval_episodes)
    for name in SCHEDULE_KNOBS:
        value = getattr(args, "schedule_" + name)
        if value is not None:
            set_value(config, f"schedule.{name}", value)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            raise UserInputError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        set_value(config, key.strip(), value.strip())
    if args.tensorboard:
        config.run.tensorboard = True
    if args.perturb:
        config.run.perturb = tuple(args.perturb)
    if config.run.task not in tasks.names():
        raise UserInputError(f"unknown task {config.run.task!r}; valid tasks: {', '.join(tasks.names())}")
    config.validate()
    task = tasks.make(config.run.task)
    # record the value the run uses, not "none" (a later default change must not alter a resume)
    config.npg.start_state_buffer_fraction = start_fraction_for(config.npg, task.horizon)
    if config.run.perturb:  # fail before the run folder exists; record the sizes used
        from stackelberg.perturbations import check_perturbations, parse_perturbations

        checked = check_perturbations(task, parse_perturbations(config.run.perturb))
        config.run.perturb = tuple(p.to_text() for p in checked)
    return config


def _requested(args: argparse.Namespace, file_data: dict, key: str) -> Optional[str]:
    """run.<key> as the flags and file will set it (flag > last --set > file), before the
    config is built: the MBPO defaults depend on the policy player and the task."""
    if getattr(args, key) is not None:
        return str(getattr(args, key))
    for item in reversed(args.set):
        name, _, value = item.partition("=")
        if name.strip() == f"run.{key}":
            return value.strip()
    file_run = file_data.get("run")
    return str(file_run[key]) if isinstance(file_run, dict) and key in file_run else None


def use_mbpo_defaults(config: Config, task: str) -> None:
    """The MBPO backend's defaults for `task`: the official per-task settings, and schedule
    knobs that make the game MBPO's loop (explore, then fit the model to early stopping on all
    data every `model_train_freq` steps). The algorithm keeps its turn order; any knob can
    still be overridden by the config file and flags."""
    from stackelberg.mbpo_config import mbpo_config_for

    config.mbpo = mbpo_config_for(task)
    schedule = config.schedule
    schedule.initial_samples = config.mbpo.initial_random_steps
    schedule.samples_per_iteration = config.mbpo.model_train_freq
    schedule.buffer_capacity = None
    schedule.model_epochs = 10_000  # an upper bound: the probabilistic model stops early
    schedule.model_min_steps = 0
    schedule.model_max_steps = 10**9


def use_sac_defaults(config: Config) -> None:
    """Model-free SAC's defaults: its SAC settings in `[mbpo]`, uniform exploration for the
    first 5,000 steps, a block of updates every 250 steps, every transition kept."""
    from stackelberg.players.model_free import sac_only_config

    config.mbpo = sac_only_config()
    schedule = config.schedule
    schedule.initial_samples = config.mbpo.initial_random_steps
    schedule.samples_per_iteration = config.mbpo.model_train_freq
    schedule.buffer_capacity = None


RESUME_FLAGS = {"out", "samples", "threads", "no_progress", "resume", "set"}


def resolve_resume(args: argparse.Namespace) -> Config:
    """The config a run was started with (its config.toml), plus an optional new budget."""
    if not args.out:
        raise UserInputError("--resume needs --out <run folder>")
    given = [k for k, v in vars(args).items() if k not in RESUME_FLAGS and v not in (None, False, [])]
    if given or args.set:
        flags = ", ".join("--" + k.replace("schedule_", "").replace("_", "-") for k in given)
        raise UserInputError(f"--resume uses the run's own config; drop {flags or '--set'}")
    out = Path(args.out)
    if not (out / "config.toml").is_file():  # a missing checkpoint is handled by `play`
        raise UserInputError(f"{out} has no config.toml and checkpoint.pt to resume from")
    config = load_saved_config(out / "config.toml")
    config.run.out = str(out)
    for key in ("samples", "threads"):
        if getattr(args, key) is not None:
            set_value(config, f"run.{key}", getattr(args, key))
    config.validate()
    return config


def _out_dir(config: Config) -> Path:
    if config.run.out:
        out = Path(config.run.out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        out = Path("runs/out") / f"{config.run.task}-{config.run.algo}-s{config.run.seed}-{stamp}"
    if (out / "metrics.csv").exists():
        raise UserInputError(f"{out} already holds a run (metrics.csv); choose another --out")
    return out


def _device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.resume:
            config = resolve_resume(args)
            out = Path(config.run.out)
        else:
            config = resolve_config(args)
            out = _out_dir(config)
        device = _device(config.run.device)
        if config.run.tensorboard:
            require_tensorboard()
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return play(config, device, out, progress=not args.no_progress, resume=args.resume)


def play(config: Config, device: torch.device, out: Path, progress: bool = True,
         resume: bool = False) -> int:
    from tqdm import tqdm

    from stackelberg.build import build_players
    from stackelberg.game import Game
    from stackelberg.recorder import RunRecorder

    run = config.run
    if run.threads:
        torch.set_num_threads(run.threads)
    torch.manual_seed(run.seed)
    np.random.seed(run.seed)
    task = tasks.make(run.task)
    try:
        policy, model = build_players(config, task, device)  # may reject a config/task mismatch
        lock = lock_run_folder(out)  # held until this process ends, however it ends
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    backend = "" if run.policy == "npg" else f" ({run.policy.upper()} policy)"
    name = "model-free SAC" if run.policy == "sac" else f"{run.algo.upper()}{backend}"
    recorder = RunRecorder(out, config_to_toml(config), f"{name} on {run.task} (seed {run.seed})",
                           score_name=task.score_name)
    game = Game(task, policy, model, config.schedule, seed=run.seed, perturbations=run.perturb,
                eval_episodes=run.eval_episodes, device=device, on_collect=recorder.save_data)
    if resume:
        # checkpoint.pt, else checkpoint_prev.pt with a warning; none at all means the run was
        # stopped in its first iteration, and starting it again is exact
        from stackelberg.recorder import CheckpointError, load_latest_checkpoint

        try:
            state, warnings = load_latest_checkpoint(out)
        except CheckpointError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if state is None:
            print(f"note: {out} has no checkpoint yet; starting the run from the beginning",
                  file=sys.stderr)
            state = {"metrics": [], "best_return": -math.inf}
        else:
            game.load_state_dict(state)
        recorder.restore(state)
    if run.plot_every:
        # import matplotlib now, not at the first plot: a stop signal that lands inside its
        # C-extension initialisation surfaces as ImportError, not as an interrupt
        import stackelberg.plots  # noqa: F401
    board = TensorBoardLog(out / "tensorboard", game.samples if resume else None) \
        if run.tensorboard else None
    bar = tqdm(total=run.samples, initial=game.samples, unit="samples", disable=not progress,
               dynamic_ncols=True)
    verb = f"resuming at {game.samples} samples" if resume else f"{run.samples} samples"
    print(f"{name} on {run.task}, {verb}, seed {run.seed} -> {out}", file=sys.stderr)
    code = 0
    try:
        while game.samples < run.samples:
            before = game.samples
            report = game.step()
            recorder.log(report)
            if board is not None:
                board.log(recorder.rows[-1])
            last = game.samples >= run.samples
            state = game.state_dict()
            if report.iteration % run.checkpoint_every == 0 or last:
                recorder.checkpoint(state, report)
            if run.snapshot_every and (report.iteration % run.snapshot_every == 0 or last):
                recorder.snapshot(state, report)
            if run.plot_every and report.iteration % run.plot_every == 0:
                recorder.plot()
            bar.update(game.samples - before)
            postfix = {"return": f"{report.eval_return:.1f}", "J(pi,M)": f"{report.model_return:.1f}",
                       "s/iter": f"{report.seconds:.1f}"}
            if not math.isnan(report.eval_success):
                postfix["success"] = f"{report.eval_success:.0%}"
            bar.set_postfix(postfix)
    except NonFiniteError as err:
        print(f"\nerror: training diverged: {err}\nThe last good checkpoint is {out / 'checkpoint.pt'}; "
              f"every collected transition is in {out / 'data'}.", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print(f"\ninterrupted; checkpoint and data are in {out}", file=sys.stderr)
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
        last = recorder.rows[-1]
        print(f"done: {last['samples']} samples, eval return {last['eval_return']:.1f}, "
              f"metrics in {out / 'metrics.csv'}", file=sys.stderr)
    lock.close()
    return code


def lock_run_folder(out: Path) -> typing.TextIO:
    """An exclusive lock on `out/.lock`, so two processes (say, a sweep resuming a run that is
    still alive) never write one run folder. The OS drops it when the process dies."""
    import fcntl

    out.mkdir(parents=True, exist_ok=True)
    handle = open(out / ".lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise UserInputError(f"{out} is in use by another running process; wait for it to end "
                             f"or stop it before resuming") from None
    return handle


if __name__ == "__main__":
    from stackelberg.stop_signal import sigterm_as_interrupt

    with sigterm_as_interrupt():
        sys.exit(main())
