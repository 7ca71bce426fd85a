"""`python -m stackelberg.render` (`stackelberg render`): the command line of
`stackelberg.analysis.render` (videos of a run's policy)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import torch

from stackelberg import tasks
from stackelberg.analysis.render import (LOOPS, _flag, find_policy_file, load_policy_source,
                                         pose_for, render_video)
from stackelberg.core.errors import UserInputError, check_output_dir, exit_with
from stackelberg.cli.args import ArgumentParser, path_text
from stackelberg.core.registry import policy_entry
from stackelberg.runner.run_folder import RunFolder

def _even_size(text: str) -> int:
    value = int(text)
    if value < 16 or value > 4096 or value % 2:
        raise argparse.ArgumentTypeError(f"must be an even number of pixels in 16..4096, got {text}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


MAX_HOLD = 60.0  # seconds a last frame is shown: longer is a still image, not a video


def _hold_seconds(text: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_HOLD:
        raise argparse.ArgumentTypeError(f"must be in [0, {MAX_HOLD:g}] seconds, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(
        prog="python -m stackelberg.render",
        description="Videos of a run's policy (MP4 or GIF), rendered headless with MuJoCo.")
    p.add_argument("run", help="run folder (config.toml and policy_best.pt, checkpoint.pt, snapshots/)")
    which = p.add_argument_group("which policy (default RUN/policy_best.pt)")
    which.add_argument("--checkpoint", type=path_text, metavar="PATH", help="a policy_best.pt, checkpoint.pt or snapshot file")
    which.add_argument("--iteration", type=int, metavar="N", help="the snapshot of iteration N (RUN/snapshots)")
    p.add_argument("--episodes", type=_positive, default=1, help="episodes in the video (1)")
    p.add_argument("--stochastic", action="store_true",
                   help="sample actions from the policy (default: its mean action, as evaluation does)")
    p.add_argument("--seed", type=_non_negative, default=0, help="episode i starts from env.reset(seed=SEED+i)")
    p.add_argument("--model", choices=LOOPS,
                   help="film the model player's prediction beside the world: 'open' replays the "
                        "world's actions, 'closed' lets the policy act on the model's states")
    p.add_argument("--member", type=int, default=0, help="ensemble member shown by --model (0)")
    p.add_argument("--camera", default="default",
                   help="'default' (the task's view), 'free', or a camera of the task's MuJoCo model")
    p.add_argument("--width", type=_even_size, default=640, help="frame width in pixels (640)")
    p.add_argument("--height", type=_even_size, default=480, help="frame height in pixels (480)")
    p.add_argument("--shadows", action="store_true",
                   help="shadows and reflections (5-10x slower in a software OpenGL driver)")
    p.add_argument("--frame-skip", type=_positive, metavar="K",
                   help="film every K-th step (default: real time at <= 50 frames per second)")
    p.add_argument("--hold", type=_hold_seconds, default=1.0, metavar="SECONDS",
                   help="show each episode's last frame this long (1)")
    p.add_argument("--max-steps", type=_positive, metavar="T", help="stop episodes after T steps")
    p.add_argument("--gif", action="store_true", help="write a GIF instead of an MP4")
    p.add_argument("--out", type=path_text, help="video path (default RUN/videos/<policy file>[-model-LOOP].mp4)")
    p.add_argument("--threads", type=_positive, default=1, help="torch CPU threads (1)")
    return p


def _output_path(args: argparse.Namespace, folder: RunFolder, stem: str) -> tuple[Path, bool]:
    gif = args.gif
    if args.out is not None:
        out = Path(args.out)
        suffix = out.suffix.lower()
        if suffix == ".gif":
            gif = True
        elif suffix == ".mp4" and gif:
            raise UserInputError(f"--gif writes a GIF, but --out {args.out} ends in .mp4; end it "
                                 f"in .gif, or drop --gif for an MP4")
        elif suffix != ".mp4":
            raise UserInputError(f"--out {args.out}: the name must end in .mp4 or .gif")
        return out, gif
    name = stem + ("-stochastic" if args.stochastic else "") + (f"-model-{args.model}" if args.model else "")
    return folder.video_file(name, gif), gif


def main(argv: Optional[Sequence[str]] = None) -> int:
    """The command line: bad input is one line on stderr and exit code 2, as in `run`."""
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    folder = RunFolder(args.run)
    try:
        from stackelberg.runner.players import build_players
        from stackelberg.worlds.perturbations import parse_perturbation, resolve

        if not folder.path.is_dir():
            raise UserInputError(f"{folder.path} is not a run folder (no such directory)")
        folder.require()
        if args.model == "closed" and args.stochastic:
            raise UserInputError("--model closed compares the policy's mean action in world and "
                                 "model; drop --stochastic (or use --model open)")
        config = folder.read_config()
        config.validate()
        if config.run.task not in tasks.names():
            raise UserInputError(f"{folder.path}: unknown task {config.run.task!r}; valid tasks: "
                                 f"{', '.join(tasks.names())}")
        task = tasks.make(config.run.task)
        if args.model:
            pose_for(task.name)
        path, stem = find_policy_file(folder.path, args.checkpoint, args.iteration, bool(args.model))
        source = load_policy_source(path, stem, bool(args.model))
        policy, model = build_players(config, task, "cpu")
        try:
            policy.load_state_dict(source.state["policy"])
            if args.model:
                model.load_state_dict(source.state["model"])
        except Exception as err:  # a file of another task or config
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
            raise UserInputError(f"{path} does not fit the run's config ({reason})") from None
        fired = [resolve(task, parse_perturbation(text))
                 for text in source.state.get("perturbations_fired", [])]
        if config.run.perturb and "perturbations_fired" not in source.state:
            print(f"note: {path.name} does not record which --perturb changes had happened; "
                  f"the video shows the unchanged world", file=sys.stderr)
        out, gif = _output_path(args, folder, source.stem)
        check_output_dir(out.parent, "the video's folder")
        mode = "stochastic" if args.stochastic else "mean action"
        method = policy_entry(config.run.policy).run_label(config.run.algo)
        title = f"{task.name}  {method}  {source.label}  {mode}"
        report = lambda i, r: print(
            f"episode {i + 1}: return {r.ret:.2f}, success {_flag(r.success)}, {r.steps} steps"
            + (" (terminated)" if r.terminated else "")
            + (f"; model ({args.model} loop, member {args.member}) predicted return "
               f"{r.predicted_return:.2f}, success {_flag(r.predicted_success)}" if args.model else ""))
        summary = render_video(task, policy, out, episodes=args.episodes,
                               deterministic=not args.stochastic, seed=args.seed,
                               width=args.width, height=args.height, camera=args.camera, gif=gif,
                               shadows=args.shadows, frame_skip=args.frame_skip, hold=args.hold,
                               max_steps=args.max_steps, model=model if args.model else None,
                               loop=args.model, member=args.member,
                               action_clamp=config.npg.action_clamp if args.model else None,
                               perturbations=fired, title=title, on_episode=report)
    except UserInputError as err:
        return exit_with(err)
    except KeyboardInterrupt:
        print("\ninterrupted; no video written", file=sys.stderr)
        return 130
    w, h = summary.size
    print(f"wrote {summary.path} ({summary.frames} frames, {w}x{h}, {summary.fps:.3g} fps)",
          file=sys.stderr)
    return 0


