"""A run folder and what a run leaves in it: `RunFolder` owns the layout (every file name, its
readers and writers); `RunRecorder` writes a game's iterations into one (config.toml,
metrics.csv, every collected transition, atomic checkpoints (last, previous and best),
snapshots and the learning-curve PNG). A loop of your own gets the CLI's files and resume:

    folder = RunFolder("runs/out/mine")
    recorder = RunRecorder(folder.path, config_toml, "my game")
    game.on_collect = recorder.save_data
    for report in game.play(total_samples):
        recorder.save_iteration(game, report)

`checkpoint_prev.pt` is the checkpoint before `checkpoint.pt`. Writes are atomic, so a killed
run never leaves a half-written checkpoint; the previous one is there for what atomic writes do
not cover (a file damaged or truncated later, or a foreign file in its place). Resuming from it
is still exact: the game is deterministic given a checkpoint, so the iteration it lacks is
replayed identically.
"""
from __future__ import annotations

import csv
import math
import os
import re
import time
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np
import torch

from stackelberg.core.buffers import Trajectory
from stackelberg.core.errors import UserInputError
from stackelberg.core.game import IterationReport

if TYPE_CHECKING:
    from stackelberg.config import Config

CONFIG = "config.toml"
METRICS = "metrics.csv"
DATA = "data"
CHECKPOINT = "checkpoint.pt"
PREVIOUS_CHECKPOINT = "checkpoint_prev.pt"
FOREIGN_CHECKPOINT = "checkpoint_foreign.pt"  # another run's checkpoint.pt, set aside by a resume
BEST_POLICY = "policy_best.pt"
SNAPSHOTS = "snapshots"
LEARNING_CURVE = "learning_curve.png"
TENSORBOARD = "tensorboard"
VIDEOS = "videos"
CHANGES_LOG = "config_changes.log"
LOCK = ".lock"
# what any run checkpoint has (the game's own keys may grow): tells a foreign file apart
CHECKPOINT_KEYS = ("policy", "model", "iteration", "samples", "metrics", "best_return")
# the arrays of a data file (`RunRecorder.save_data`)
DATA_ARRAYS = ("obs", "act", "next_obs", "reward", "lengths", "terminated")
# the files and folders a run writes into its folder: any of them means the folder holds a run
RUN_FILES = (CONFIG, METRICS, DATA, CHECKPOINT, PREVIOUS_CHECKPOINT, BEST_POLICY, SNAPSHOTS,
             LEARNING_CURVE, TENSORBOARD)
_ITERATION_FILE = re.compile(r"iter_(\d+)\.(pt|npz|mp4)$")


class RunFolder:
    """One run's folder: where each of its files is, and how each is read. The only place
    that knows the layout, so the CLI, the analysis tools and a user's own loop agree on it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS

    @property
    def checkpoint_file(self) -> Path:
        return self.path / CHECKPOINT

    @property
    def previous_checkpoint_file(self) -> Path:
        return self.path / PREVIOUS_CHECKPOINT

    @property
    def best_policy_file(self) -> Path:
        return self.path / BEST_POLICY

    @property
    def learning_curve_file(self) -> Path:
        return self.path / LEARNING_CURVE

    @property
    def changes_log(self) -> Path:
        return self.path / CHANGES_LOG

    @property
    def lock_file(self) -> Path:
        """Locked while a process writes the run (`cli.run.lock_run_folder`)."""
        return self.path / LOCK

    @property
    def data_dir(self) -> Path:
        return self.path / DATA

    @property
    def snapshots_dir(self) -> Path:
        return self.path / SNAPSHOTS

    @property
    def tensorboard_dir(self) -> Path:
        return self.path / TENSORBOARD

    @property
    def videos_dir(self) -> Path:
        return self.path / VIDEOS

    def data_file(self, iteration: int) -> Path:
        """Where an iteration's transitions are kept."""
        return self.data_dir / f"iter_{iteration:04d}.npz"

    def snapshot_file(self, iteration: int) -> Path:
        """Policy and model of one iteration (`run.snapshot_every`)."""
        return self.snapshots_dir / f"iter_{iteration:04d}.pt"

    def snapshots(self) -> dict[int, Path]:
        """iteration -> snapshot file, for every snapshot on disk."""
        found = {}
        for path in sorted(self.snapshots_dir.glob("iter_*.pt")):
            match = _ITERATION_FILE.search(path.name)
            if match:
                found[int(match.group(1))] = path
        return found

    def video_file(self, name: str, gif: bool = False) -> Path:
        return self.videos_dir / f"{name}.{'gif' if gif else 'mp4'}"

    def held_files(self) -> list[str]:
        """The run files present: any of them means the folder holds a run."""
        return [name for name in RUN_FILES if (self.path / name).exists()]

    def require(self, what: str = "a run folder") -> None:
        """A `UserInputError` unless this is a folder holding a config.toml."""
        if not self.path.is_dir():
            state = "is a file, not a run folder" if self.path.exists() else "does not exist"
            raise UserInputError(f"{self.path} {state}: not {what}")
        if not self.config_file.is_file():
            raise UserInputError(f"{self.path} is not {what} (no {CONFIG})")

    def read_config(self) -> "Config":
        """The run's config.toml, validated (its `run.imports` imported first)."""
        from stackelberg.config import load_saved_config

        self.require()
        return load_saved_config(self.config_file)

    def write_config(self, toml_text: str) -> None:
        """config.toml, atomically (a resume needs it whole); unchanged text is not rewritten."""
        self.path.mkdir(parents=True, exist_ok=True)
        if not self.config_file.exists() or self.config_file.read_text() != toml_text:
            tmp = self.config_file.with_name(CONFIG + ".tmp")
            tmp.write_text(toml_text)
            os.replace(tmp, self.config_file)

    def read_metrics(self) -> list[dict[str, str]]:
        """metrics.csv as rows of text (empty if there is none yet)."""
        if not self.metrics_file.is_file():
            return []
        with open(self.metrics_file, newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def latest_checkpoint(self) -> tuple[Optional[Path], Optional[dict], list[str]]:
        """See `latest_checkpoint`."""
        return latest_checkpoint(self.path)

    def check_data_files(self, state: dict, task: Any = None) -> None:
        """See `check_data_files`."""
        check_data_files(self.path, state, task)

    def set_aside_checkpoint(self) -> None:
        """Clear checkpoint.pt for the resume from checkpoint_prev.pt: an unreadable one is
        deleted, another run's (`foreign_reason`) kept as checkpoint_foreign.pt."""
        path = self.checkpoint_file
        if not path.is_file():
            return
        try:
            state = load_checkpoint(path)
        except Exception:
            path.unlink()
            return
        if isinstance(state, dict) and "metrics" in state and foreign_reason(self.path, state):
            os.replace(path, self.path / FOREIGN_CHECKPOINT)
        else:
            path.unlink()

    def check_writable(self) -> None:
        """A `UserInputError` naming the first folder or file of the run that this process may
        not write: checked before a resume rewrites anything, so a read-only part of the folder
        is one line, not a half-updated run."""
        paths = [self.path, self.data_dir, self.snapshots_dir, self.tensorboard_dir,
                 self.videos_dir, self.metrics_file, self.changes_log]
        for path in paths:
            if path.exists() and not os.access(path, os.W_OK | (os.X_OK if path.is_dir() else 0)):
                raise UserInputError(f"{path} is not writable, and the run writes there; make it "
                                     f"writable (chmod u+w) and resume again")

    def log_change(self, line: str) -> None:
        """A line of config_changes.log (what a resume changed, from which iteration)."""
        with open(self.changes_log, "a") as log:
            log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


class CheckpointError(UserInputError):
    """No checkpoint of a run folder can be read; the CLI turns it into exit code 2."""


def _interrupt_behind(error: BaseException) -> Optional[KeyboardInterrupt]:
    """The Ctrl-C or stop signal an exception was raised while handling, if any: a signal that
    lands inside torch's zip writer makes the writer's clean-up raise its own RuntimeError, which
    would otherwise hide the interrupt and turn a clean stop into a traceback."""
    seen: set[int] = set()
    current: Optional[BaseException] = error
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt):
            return current
        seen.add(id(current))
        current = current.__context__
    return None


def atomic_torch_save(obj: dict, path: Path, previous: Optional[Path] = None) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash mid-write
    leaves the previous file intact. With `previous`, the file being replaced is kept there
    (a hard link, so at every instant both names hold complete files)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as error:  # a stop signal or a full disk mid-write: no half file is left
        tmp.unlink(missing_ok=True)
        interrupt = _interrupt_behind(error)
        if interrupt is not None and interrupt is not error:
            raise interrupt from None  # torch's writer failed *because* of the interrupt
        raise
    if previous is not None and path.exists():
        link = previous.with_name(previous.name + ".tmp")
        link.unlink(missing_ok=True)
        try:
            os.link(path, link)
        except OSError:  # a filesystem without hard links
            shutil.copyfile(path, link)
        os.replace(link, previous)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load without executing code (tensors and plain containers only). torch's warnings about
    a foreign file's pickle protocol are silenced: the caller says what is wrong, in one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.load(path, map_location="cpu", weights_only=True)


def unreadable_reason(err: BaseException) -> str:
    """Why a checkpoint could not be read, in one sentence of our own where torch's is long
    (its refusal of a pickle with code in it recommends the unsafe load we must not do)."""
    text = str(err)
    if "Weights only load failed" in text:
        return "it holds objects other than tensors and plain containers, and loading it " \
               "could run code (refused)"
    first = (text.strip().splitlines() or [type(err).__name__])[0].strip()
    if len(first) > 200 and ". " in first:  # cut at the end of a sentence, not inside one
        first = first[:first.index(". ") + 1]
    return first[:300]


def readable_checkpoints(out_dir: str | Path) -> tuple[list[tuple[Path, dict]], list[str]]:
    """Every readable checkpoint of a run folder, newest first, as (path, state), and a line
    per checkpoint that is missing or cannot be read (a resume tries the next on a mismatch)."""
    out = Path(out_dir)
    folder = RunFolder(out)
    paths = [p for p in (folder.checkpoint_file, folder.previous_checkpoint_file) if p.is_file()]
    problems: list[str] = []
    if paths and not (out / CHECKPOINT).is_file():
        problems.append(f"{out / CHECKPOINT} is missing")
    found = []
    for path in paths:
        try:
            state = load_checkpoint(path)
            missing = [k for k in CHECKPOINT_KEYS if k not in state] if isinstance(state, dict) \
                else ["dict"]
            if missing:
                raise ValueError(f"not a run checkpoint (no {', '.join(missing)})")
        except Exception as err:  # truncated, corrupted or foreign: say so, try the previous one
            problems.append(f"cannot read {path}: {unreadable_reason(err)}")
            continue
        found.append((path, state))
    return found, problems


def fallback_warnings(problems: list[str], path: Path, state: dict) -> list[str]:
    """A warning per checkpoint passed over for the one at `path`."""
    return [f"{p}; using {path.name} instead ({int(state['iteration'])} iterations, "
            f"{int(state['samples'])} samples)" for p in problems]


def no_usable_checkpoint(out: Path, problems: list[str]) -> CheckpointError:
    return CheckpointError("; ".join(problems) + ". No usable checkpoint: start a new run "
                           f"(every collected transition is kept in {out / 'data'})")


def latest_checkpoint(out_dir: str | Path) -> tuple[Optional[Path], Optional[dict], list[str]]:
    """The newest readable checkpoint of a run folder: (its path, its state, a warning per
    unreadable one).

    Returns (None, None, []) if the run never wrote a checkpoint (it was stopped in its first
    iteration; starting again is exact). Raises `CheckpointError` with a one-line message if
    checkpoints exist but none can be read."""
    found, problems = readable_checkpoints(out_dir)
    if found:
        path, state = found[0]
        return path, state, fallback_warnings(problems, path, state)
    if problems:
        raise no_usable_checkpoint(Path(out_dir), problems)
    return None, None, []


def foreign_reason(out_dir: str | Path, state: dict) -> Optional[str]:
    """Why a checkpoint is not of this folder's run, judged by metrics.csv (which a run writes
    before each checkpoint, so a checkpoint's rows are always its first rows): None if its rows
    are, or if there is no metrics.csv to judge by."""
    try:
        on_disk = RunFolder(out_dir).read_metrics()
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    if not on_disk:
        return None
    rows = list(state["metrics"])
    if len(rows) > len(on_disk):
        return (f"it is at iteration {len(rows)}, past the {len(on_disk)} rows of metrics.csv "
                f"(a checkpoint of a later point)")
    for i, (row, line) in enumerate(zip(rows, on_disk)):
        for key in ("samples", "eval_return"):
            try:
                same = float(row[key]) == float(line.get(key) or "nan")
            except (KeyError, TypeError, ValueError):
                same = False
            if not same and not (key == "eval_return" and _both_nan(row.get(key), line.get(key))):
                return (f"its iteration {i} has {key} {row.get(key)}, metrics.csv has "
                        f"{line.get(key)} (a checkpoint of another run: seed, task or config)")
    return None


def _both_nan(a: Any, b: Any) -> bool:
    try:
        return math.isnan(float(a)) and math.isnan(float(b))
    except (TypeError, ValueError):
        return False


def load_latest_checkpoint(out_dir: str | Path) -> tuple[Optional[dict], list[str]]:
    """`latest_checkpoint` without the path: (state or None, warnings)."""
    _, state, warnings = latest_checkpoint(out_dir)
    return state, warnings


def data_file(out_dir: str | Path, iteration: int) -> Path:
    """Where an iteration's transitions are kept: one name for the writer and the resume check."""
    return RunFolder(out_dir).data_file(iteration)


def check_data_file(path: Path, task: Any = None) -> int:
    """The number of transitions in a data file, after checking that it is what `save_data`
    writes: every array there, with the dtypes and shapes that agree with each other and (given
    a `task`) with the task's observation and action sizes, and finite numbers only. A
    `UserInputError` says what is wrong."""
    with np.load(path, allow_pickle=False) as f:
        missing = [k for k in DATA_ARRAYS if k not in f.files]
        if missing:
            raise UserInputError(f"has no {', '.join(missing)} array")
        arrays = {k: f[k] for k in DATA_ARRAYS}
    lengths, terminated = arrays["lengths"], arrays["terminated"]
    if lengths.ndim != 1 or lengths.dtype.kind not in "iu" or (lengths < 1).any():
        raise UserInputError(f"has lengths of shape {lengths.shape} and dtype {lengths.dtype}, "
                             f"not positive integers, one per trajectory")
    count = int(lengths.sum())
    if terminated.dtype != np.bool_ or terminated.shape != lengths.shape:
        raise UserInputError(f"has terminated of shape {terminated.shape} and dtype "
                             f"{terminated.dtype}, not {lengths.shape} bool")
    obs_dim = getattr(task, "obs_dim", None)
    act_dim = getattr(task, "act_dim", None)
    expected = {"obs": (count, obs_dim), "next_obs": (count, obs_dim), "act": (count, act_dim),
                "reward": (count,)}
    for key, shape in expected.items():
        array = arrays[key]
        fits = array.ndim == len(shape) and all(
            want is None or have == want for have, want in zip(array.shape, shape))
        if array.dtype.kind != "f" or not fits:
            shown = tuple("?" if d is None else d for d in shape)
            raise UserInputError(f"has {key} of shape {array.shape} and dtype {array.dtype}, "
                                 f"the task's transitions are {shown} floats")
        if not np.isfinite(array).all():
            raise UserInputError(f"has non-finite numbers (NaN or inf) in {key}")
    return count


def check_data_files(out_dir: str | Path, state: dict, task: Any = None) -> None:
    """Every transition a checkpoint counts is on disk: data/iter_0000.npz up to the
    checkpoint's last iteration, each holding what its iteration collected (the checkpoint's
    metrics give the count per iteration) as `check_data_file` checks it against `task`. A resume only rewrites the files of the iterations
    it replays, so a file missing here would stay missing: refuse, naming it."""
    out = Path(out_dir)
    iterations, samples = int(state["iteration"]), int(state["samples"])
    rows = list(state["metrics"])
    before, total = 0, 0
    for i in range(iterations):
        path = data_file(out, i)
        expected = int(rows[i]["samples"]) - before if i < len(rows) else None
        before = int(rows[i]["samples"]) if i < len(rows) else before
        where = (f"the checkpoint ({iterations} iterations, {samples} samples) needs "
                 f"data/iter_0000.npz to {data_file(out, iterations - 1).name}")
        if not path.is_file():
            raise UserInputError(f"{path} is missing: {where}; put the file back (resuming would "
                                 f"leave those transitions unrecorded)")
        try:
            count = check_data_file(path, task)
        except UserInputError as err:
            raise UserInputError(f"{path} {err}: {where}; put the run's own file back") from None
        except Exception as err:
            raise UserInputError(f"cannot read {path} ({unreadable_reason(err)}): {where}") from None
        if expected is not None and count != expected:
            raise UserInputError(f"{path} holds {count} transitions, but iteration {i} collected "
                                 f"{expected}: {where}")
        total += count
    if total != samples:
        raise UserInputError(f"the data files of {out} hold {total} transitions, the checkpoint "
                             f"counts {samples}")


def _fieldnames(rows: list[dict]) -> list[str]:
    """Every column of `rows` in first-seen order: rows written by different versions of the
    code (a run resumed after an upgrade) can have different columns."""
    return list(dict.fromkeys(key for row in rows for key in row))


def _write_rows(path: Path, rows: list[dict]) -> None:
    """Atomically replace the CSV at `path` with `rows` (missing values left empty)."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=_fieldnames(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


class RunRecorder:
    """Writes a game's iterations into a `RunFolder`: what the CLI's runs write, for any loop."""

    def __init__(self, out_dir: str | Path, config_toml: str, title: str, score_name: str = "score",
                 record: Optional[dict] = None):
        """`config_toml` is the run's config as TOML text (`config.config_to_toml`; a loop of
        your own may write any text, `--resume` needs the CLI's); `score_name` labels the task's
        evaluation score in the plot (`Task.score_name`); `record` (`config.config_record`) goes
        into every checkpoint, so a resume can tell a config.toml edited since from the config
        the checkpoint was made with."""
        self.folder = RunFolder(out_dir)
        self.out = self.folder.path
        self.record = record
        self.folder.data_dir.mkdir(parents=True, exist_ok=True)
        self.folder.write_config(config_toml)
        self.metrics_path = self.folder.metrics_file
        self.title = title
        self.score_name = score_name
        self.rows: list[dict] = []
        self.best_return = -math.inf
        self.best_iteration: Optional[int] = None

    def save_data(self, iteration: int, trajectories: list[Trajectory]) -> None:
        """Every real transition, as soon as it is collected (numpy .npz, one file per iteration)."""
        lengths = np.array([len(t) for t in trajectories])
        cat = lambda key: torch.cat([getattr(t, key) for t in trajectories]).numpy()
        path = self.folder.data_file(iteration)
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, obs=cat("obs"), act=cat("act"), next_obs=cat("next_obs"),
                 reward=cat("reward"), lengths=lengths,
                 terminated=np.array([t.terminated for t in trajectories]))
        os.replace(tmp, path)

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint: its metrics and best return replace whatever a killed
        run left behind."""
        self.rows = [dict(r) for r in state["metrics"]]
        self.best_return = float(state["best_return"])
        best = state.get("best_iteration")
        self.best_iteration = None if best is None else int(best)
        if not self.rows:  # `log` writes the header when the file is missing
            self.metrics_path.unlink(missing_ok=True)
            return
        _write_rows(self.metrics_path, self.rows)

    def log(self, report: IterationReport) -> None:
        """Append a row. If its columns differ from the file's header (a run resumed after the
        metrics gained a column), the file is rewritten with every column instead."""
        row = report.row()
        header = None
        if self.metrics_path.exists():
            with open(self.metrics_path, newline="") as f:
                header = next(csv.reader(f), None)
        if header is not None and header != list(row):
            with open(self.metrics_path, newline="") as f:
                on_disk = list(csv.DictReader(f))
            _write_rows(self.metrics_path, on_disk + [row])
        else:
            with open(self.metrics_path, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(row))
                if header is None:
                    writer.writeheader()
                writer.writerow(row)
        self.rows.append(row)

    def update_best(self, state: dict, report: IterationReport) -> None:
        """Every iteration, before its checkpoint: policy_best.pt gets the policy if it beat
        the best evaluation so far, and the checkpoint then stores that best (written the
        other way round, a resumed run compared against a stale best and could overwrite a
        better policy with a worse one)."""
        if report.eval_return > self.best_return:
            self.best_return = float(report.eval_return)
            self.best_iteration = report.iteration
            atomic_torch_save({"policy": state["policy"], "iteration": report.iteration,
                               "eval_return": report.eval_return}, self.folder.best_policy_file)

    def checkpoint(self, state: dict, report: IterationReport) -> None:
        """Game state plus the metrics so far and the best evaluation (call `update_best`
        first): a resumed run rewrites metrics.csv from it."""
        state = {**state, "metrics": self.rows, "best_return": self.best_return,
                 "best_iteration": self.best_iteration}
        if self.record is not None:
            state["config"] = self.record
        atomic_torch_save(state, self.folder.checkpoint_file,
                          previous=self.folder.previous_checkpoint_file)

    def snapshot(self, state: dict, report: IterationReport) -> Path:
        """Policy and model of one iteration, kept for later diagnosis (stackelberg.cli.diagnose)."""
        path = self.folder.snapshot_file(report.iteration)
        path.parent.mkdir(exist_ok=True)
        atomic_torch_save({"policy": state["policy"], "model": state["model"],
                           "iteration": report.iteration, "samples": report.samples}, path)
        return path

    def plot(self, path: Optional[Path] = None) -> Path:
        from stackelberg.runner.plots import plot_learning_curve

        path = path or self.folder.learning_curve_file
        plot_learning_curve(self.rows, path, self.title, self.score_name)
        return path

    def save_iteration(self, game: Any, report: IterationReport, checkpoint_every: int = 1,
               snapshot_every: int = 0, plot_every: int = 0, last: bool = False) -> None:
        """Everything the CLI keeps after an iteration of `game`: the metrics row, the best
        policy, a checkpoint every `checkpoint_every` iterations (and at the `last`), a snapshot
        every `snapshot_every` (0 = none), the plot every `plot_every` (0 = none)."""
        self.log(report)
        state = game.state_dict()
        # policy_best and snapshots are for acting and diagnosis: a player may keep less there
        # than its checkpoint needs to resume (`acting_state_dict`, e.g. MBPO's rollouts)
        acting = getattr(game.policy, "acting_state_dict", None)
        kept = {**state, "policy": acting()} if callable(acting) else state
        self.update_best(kept, report)
        if report.iteration % checkpoint_every == 0 or last:
            self.checkpoint(state, report)
        if snapshot_every and (report.iteration % snapshot_every == 0 or last):
            self.snapshot(kept, report)
        if plot_every and report.iteration % plot_every == 0:
            self.plot()

    def resume(self, game: Any) -> bool:
        """Load the folder's newest readable checkpoint into `game` and this recorder (metrics,
        best return); False if there is none yet (start from the beginning, which is exact)."""
        _, state, problems = self.folder.latest_checkpoint()
        for problem in problems:
            warnings.warn(problem)
        if state is None:
            return False
        self.folder.check_data_files(state)
        game.load_state_dict(state)
        self.restore(state)
        return True
