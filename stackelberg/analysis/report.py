"""`python -m stackelberg.report RUN_FOLDER...`: curves over seeds and a Markdown table.

Runs are grouped by (task, algorithm, policy backend) from each folder's config.toml; runs of one
group whose configs differ elsewhere (say `model.wrap_angles`) are split, and the differing keys
name each part (`pal [model.wrap_angles=false]`). Each seed's
curve is interpolated linearly onto a common sample grid inside the range that seed covers; the
band is a 95% Student-t confidence interval of the mean over seeds (scipy). `--pool` keeps one
group per (task, algorithm) and names the keys that differ; `--label NAME=GLOB` makes the runs
whose folder matches GLOB one group named NAME (a reader's name instead of config keys);
`--smooth` plots each seed's trailing-window mean, for metrics as noisy as a success rate over 5
evaluation episodes.
"""
from __future__ import annotations

import functools

import csv
import fnmatch
import io
import math
import textwrap
import warnings
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

from stackelberg.config import Config, RunConfig, keys_where, saved_without_key
from stackelberg.core.bins import bin_means
from stackelberg.core.registry import entries
from stackelberg.core.errors import UserInputError
from stackelberg.runner.run_folder import RunFolder


@dataclass
class RunCurve:
    folder: Path
    task: str
    algo: str
    seed: int
    samples: np.ndarray
    values: np.ndarray
    seconds: np.ndarray
    # world changes: (samples collected when it fired, its text), from metrics.csv's column
    changes: tuple[tuple[int, str], ...] = ()
    # the rest of the config as dotted keys (run bookkeeping left out): tells variants apart
    settings: Mapping[str, Any] = field(default_factory=dict)
    # a reader's name for the run's group (`--label`), shown as is instead of the algorithm
    label: str = ""

    def first_reaching(self, target: float, lower_is_better: bool = False) -> Optional[int]:
        hits = np.nonzero(self.values <= target if lower_is_better else self.values >= target)[0]
        return int(self.samples[hits[0]]) if hits.size else None

    def recovery(self, change_at: int, lower_is_better: bool, window: int = 3
                 ) -> tuple[float, float, Optional[int]]:
        """How a world change hit this run: the level before it (mean of the last `window`
        evaluations before the change), the first evaluation after it, and the samples after the
        change until an evaluation is back at that level (None: never within the run)."""
        before = self.values[self.samples <= change_at][-window:]
        after = self.samples > change_at
        if before.size == 0 or not after.any():
            return float("nan"), float("nan"), None
        level = float(before.mean())
        values, samples = self.values[after], self.samples[after]
        back = np.nonzero(values <= level if lower_is_better else values >= level)[0]
        return level, float(values[0]), int(samples[back[0]] - change_at) if back.size else None

    def until(self, samples: float) -> "RunCurve":
        """The evaluations at or before `samples`: e.g. the part of a perturbed run that still
        saw the nominal world, which is the unperturbed run (same seed) up to that point."""
        keep = self.samples <= samples
        if not keep.any():
            raise UserInputError(f"{self.folder} has no evaluation at or before {samples:g} samples "
                                 f"(its first is at {self.samples[0]:g})")
        return replace(self, samples=self.samples[keep], values=self.values[keep],
                       seconds=self.seconds[keep],
                       changes=tuple((at, text) for at, text in self.changes if at < samples))

    def binned(self, width: float) -> dict[int, float]:
        """Mean of the evaluations in each `width`-sample bin, keyed by the bin's first sample:
        how a slow-moving metric (a log-std, a model loss) drifts, without one noisy row."""
        return bin_means(self.samples, self.values, width)

    def smoothed(self, window: float) -> "RunCurve":
        """Each evaluation replaced by the mean of the evaluations in the trailing `window`
        samples (s - window, s]: a success rate from 5 episodes per iteration jumps between 0 and
        1, and the paper plots a rate over many episodes. Trailing, so a curve never shows at s
        what the run only did later. NaN values are skipped; a window holding none stays NaN."""
        valid = ~np.isnan(self.values)
        total = np.concatenate([[0.0], np.cumsum(np.where(valid, self.values, 0.0))])
        count = np.concatenate([[0], np.cumsum(valid)])
        first = np.searchsorted(self.samples, self.samples - window, side="right")
        last = np.arange(1, self.samples.size + 1)
        n = count[last] - count[first]
        means = np.where(n > 0, (total[last] - total[first]) / np.maximum(n, 1), np.nan)
        return replace(self, values=means)

    def mean_after(self, change_at: int) -> float:
        """Mean of every evaluation after a change: how well the run did in the changed world
        overall, less sensitive than `recovery` to one lucky evaluation."""
        after = self.values[self.samples > change_at]
        return float(after.mean()) if after.size else float("nan")


def read_text(path: Path) -> str:
    """A text file the user pointed at, as UTF-8; anything else is a one-line error."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserInputError(f"cannot read {path}: {err.strerror or err}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserInputError(f"{path} is not UTF-8 text (byte {err.start}); is it the file a run "
                             "wrote?") from None


def _number(text: Optional[str], where: str, empty_is_nan: bool = False) -> float:
    if text is None or (text.strip() == "" and not empty_is_nan):
        raise UserInputError(f"{where} is empty")
    if text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UserInputError(f"{where} is not a number: {text[:40]!r}") from None


def read_metrics(path: Path, metric: str) -> tuple[list[dict], np.ndarray, np.ndarray, np.ndarray]:
    """metrics.csv checked row by row: (rows, samples, values of `metric`, seconds). Samples
    must be finite and increase; the metric may be empty or nan (not measured), not text."""
    text = read_text(path)
    if "\0" in text:
        raise UserInputError(f"{path} holds binary data, not a metrics table")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    missing = [c for c in ("samples", "seconds", metric) if c not in header]
    if missing:
        if metric in missing and header:
            raise UserInputError(f"unknown metric {metric!r}; {path} has: {', '.join(header)}")
        raise UserInputError(f"{path} has no {missing[0]} column; it is not a metrics.csv a run "
                             "wrote")
    rows: list[dict] = []
    samples: list[float] = []
    values: list[float] = []
    seconds: list[float] = []
    try:
        for row in reader:
            where = f"{path} line {reader.line_num}"
            if None in row or None in row.values():
                raise UserInputError(f"{where} does not have the header's {len(header)} fields")
            s = _number(row["samples"], f"{where}: samples")
            if not math.isfinite(s) or s <= 0:
                raise UserInputError(f"{where}: samples must be a count, got {row['samples']!r}")
            if samples and s <= samples[-1]:
                raise UserInputError(f"{where}: samples {s:g} after {samples[-1]:g}; the rows must "
                                     "be in the order the run wrote them")
            value = _number(row[metric], f"{where}: {metric}", empty_is_nan=True)
            second = _number(row["seconds"], f"{where}: seconds")
            if math.isinf(value) or not math.isfinite(second) or second < 0:
                raise UserInputError(f"{where}: {metric} {row[metric]!r}, seconds "
                                     f"{row['seconds']!r} are not measurements")
            rows.append(row)
            samples.append(s)
            values.append(value)
            seconds.append(second)
    except csv.Error as err:
        raise UserInputError(f"{path} line {reader.line_num} is not CSV: {err}") from None
    if not rows:
        raise UserInputError(f"{path} has no rows yet")
    return rows, np.array(samples), np.array(values), np.cumsum(seconds)


def read_config(path: Path) -> dict[str, Any]:
    """A run folder's config.toml as data, with the [run] keys `report` needs checked."""
    try:
        resolved = tomllib.loads(read_text(path))
    except tomllib.TOMLDecodeError as err:
        raise UserInputError(f"{path} is not valid TOML: {err}") from None
    run = resolved.get("run")
    if not isinstance(run, dict):
        raise UserInputError(f"{path} has no [run] table; it is not a config.toml a run wrote")
    for key, kind in (("task", str), ("algo", str), ("seed", int), ("policy", str)):
        if key in run and (not isinstance(run[key], kind) or isinstance(run[key], bool)):
            raise UserInputError(f"{path}: run.{key} must be {kind.__name__}, got {run[key]!r}")
    if "task" not in run:
        raise UserInputError(f"{path} has no run.task")
    return resolved


def load_run(folder: Path, metric: str) -> RunCurve:
    files = RunFolder(folder)
    metrics, config = files.metrics_file, files.config_file
    if not metrics.is_file() or not config.is_file():
        raise UserInputError(f"{folder} is not a run folder (needs {metrics.name} and {config.name})")
    rows, samples, values, seconds = read_metrics(metrics, metric)
    resolved = read_config(config)
    run = resolved["run"]
    algo = method_of(str(run.get("algo", "?")), str(run.get("policy", RunConfig().policy)))
    changes, previous = [], 0
    for r, s in zip(rows, samples):  # a change fires before the collection that starts at the previous row's count
        if r.get("perturbation"):
            changes.append((previous, r["perturbation"]))
        previous = int(s)
    return RunCurve(folder, run["task"], algo, int(run.get("seed", 0)), samples, values, seconds,
                    tuple(changes), settings=_settings(resolved))


def method_of(algo: str, policy: str) -> str:
    """The method a run is grouped under: its solver and policy player as the player's
    registration names them (model-free SAC has no solver; another backend is `algo+name`)."""
    found = [e for e in entries() if e.kind == "policy" and e.name == policy]
    return found[0].report_method(algo) if found else f"{algo}+{policy}"


@functools.cache
def _bookkeeping() -> frozenset[str]:
    """Keys that say how a run was carried out or stored, not what was run."""
    return keys_where(Config(), "bookkeeping")


@dataclass
class PublishedCurve:
    """A learning curve another paper published, entered as data (not run here): drawn dashed
    beside the runs and listed in the table as "published", never pooled with seeds. The CSV
    has `# task: NAME` and `# label: TEXT` comment lines, then `samples,mean[,std]` rows."""

    path: Path
    task: str
    label: str
    samples: np.ndarray
    mean: np.ndarray
    std: np.ndarray  # NaN where the source gives none

    def first_reaching(self, target: float, lower_is_better: bool = False) -> Optional[int]:
        hits = np.nonzero(self.mean <= target if lower_is_better else self.mean >= target)[0]
        return int(self.samples[hits[0]]) if hits.size else None


def load_published(path: Path) -> PublishedCurve:
    text = read_text(path)
    meta = {}
    body = []
    for line in text.splitlines():
        if line.startswith("#"):
            key, _, value = line[1:].partition(":")
            meta[key.strip()] = value.strip()
        elif line.strip():
            body.append(line)
    rows = list(csv.DictReader(io.StringIO("\n".join(body))))
    missing = [k for k in ("task", "label") if not meta.get(k)]
    if missing or not rows or not {"samples", "mean"} <= set(rows[0]):
        raise UserInputError(f"{path} is not a published curve: it needs '# task: ...' and "
                             f"'# label: ...' lines and columns samples,mean[,std]")
    where = lambda i, key: f"{path} row {i + 1} column {key}"
    samples = np.array([_number(r["samples"], where(i, "samples")) for i, r in enumerate(rows)])
    mean = np.array([_number(r["mean"], where(i, "mean")) for i, r in enumerate(rows)])
    std = np.array([_number(r.get("std", ""), where(i, "std"), empty_is_nan=True)
                    for i, r in enumerate(rows)])
    if not (np.all(np.isfinite(samples)) and np.all(np.diff(samples) > 0)):
        raise UserInputError(f"{path}: samples must be finite and increase")
    return PublishedCurve(path, meta["task"], meta["label"], samples, mean, std)


def _hashable(value: Any) -> Any:
    """TOML data (lists, inline tables) as values that can be compared in sets."""
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value


def _settings(config: Mapping[str, Any]) -> dict[str, Any]:
    flat = {}
    for section, values in config.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if f"{section}.{key}" not in _bookkeeping():
                flat[f"{section}.{key}"] = _hashable(value)
    return flat


def _toml_value(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


@functools.cache
def _later_option_defaults() -> dict[str, Any]:
    """The value a record that lacks a key ran with: the value before the key existed where it
    was added with another default (`saved_without`), else today's default. Only for the
    sections whose defaults do not depend on the algorithm, the task or the policy player (no
    player's `defaults` layer writes them): a key an older config.toml lacks (the option came
    later) is read as its default from these."""
    fixed = {e.section for e in entries() if e.config is not None and e.defaults is None}
    config = Config()
    defaults = {k: v for k, v in _settings(config.to_dict()).items()
                if k.split(".", 1)[0] in fixed}
    return {**defaults, **{k: v for k, v in saved_without_key(config).items() if k in defaults}}


def differing_keys(curves: Sequence[RunCurve]) -> list[str]:
    """Config keys whose values differ between the runs. A key some run lacks is compared as its
    default where that is fixed (an option added later, which the older run ran without: e.g.
    `model.holdout_fraction`); other keys some run lacks are not compared."""
    defaults = _later_option_defaults()
    keys = set.union(*(set(c.settings) for c in curves))
    shared = set.intersection(*(set(c.settings) for c in curves))
    differing = []
    for key in sorted(keys):
        if key not in shared and key not in defaults:
            continue
        if len({c.settings.get(key, defaults.get(key)) for c in curves}) > 1:
            differing.append(key)
    return differing


def refuse_repeated_folders(curves: Sequence[RunCurve]) -> None:
    """A `UserInputError` naming the first run folder given twice (itself, or a link to it):
    it would count as two seeds of its group."""
    folders: dict[Path, RunCurve] = {}
    for c in curves:
        real = c.folder.resolve()
        if real in folders:
            raise UserInputError(f"{folders[real].folder} and {c.folder} are the same run folder; "
                                 f"give each run once")
        folders[real] = c


def split_repeated_seeds(curves: Sequence[RunCurve]) -> tuple[list[RunCurve], list[str]]:
    """Runs of a group (task, algo and variant) that repeat a seed with the same config, e.g. one
    run on two backends or a rerun, would count as two seeds (`--pool` pools a seed's runs of
    different configs on purpose): every run of such a group gets its
    folder's parent name in its algo (its own name where parents repeat too), so each group
    holds each seed once. Returns the curves and a note per split group naming a repeat."""
    by_group: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, c in enumerate(curves):
        by_group[(c.task, c.algo)].append(i)
    out, notes = list(curves), []
    for (task, algo), members in by_group.items():
        seen: dict[int, list[RunCurve]] = defaultdict(list)
        repeat = None
        for i in members:
            same = [c for c in seen[curves[i].seed] if not differing_keys([c, curves[i]])]
            if same and repeat is None:
                repeat = (same[0], curves[i])
            seen[curves[i].seed].append(curves[i])
        if repeat is None:
            continue
        by_parent = {(curves[i].folder.parent.name, curves[i].seed) for i in members}
        use_parent = len(by_parent) == len(members)
        for i in members:
            tag = curves[i].folder.parent.name if use_parent else curves[i].folder.name
            out[i] = replace(curves[i], algo=f"{algo} [{tag}]" if " [" not in algo
                             else f"{algo[:-1]}, {tag}]")
        notes.append(f"{repeat[0].folder} and {repeat[1].folder} are both seed {repeat[1].seed} "
                     f"of {algo} on {task}: the runs of that group are kept apart by folder, so "
                     f"no seed counts twice")
    return out, notes


def label_variants(curves: Sequence[RunCurve]) -> list[RunCurve]:
    """Runs of one (task, algo) whose configs differ get the differing keys in their algo name,
    so `group` keeps them apart. Keys some run does not have (older configs) are not compared.
    Runs the user labelled (`apply_labels`) keep their label."""
    by_method: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, c in enumerate(curves):
        if not c.label:
            by_method[(c.task, c.algo)].append(i)
    out = list(curves)
    for members in by_method.values():
        differing = differing_keys([curves[i] for i in members])
        if not differing:
            continue
        for i in members:
            settings = {**_later_option_defaults(), **curves[i].settings}
            tag = ", ".join(f"{k}={_toml_value(settings[k])}" for k in differing)
            out[i] = replace(curves[i], algo=f"{curves[i].algo} [{tag}]")
    return out


def parse_label(text: str) -> tuple[str, str]:
    """`NAME=GLOB` as (name, glob), or a one-line error saying the form."""
    name, sep, pattern = text.partition("=")
    if not sep or not name.strip() or not pattern.strip():
        raise UserInputError(f"--label expects NAME=GLOB (e.g. 'PAL, all data=*/pen-pal-alldata-s?'), "
                             f"got {text!r}")
    return name.strip(), pattern.strip()


def apply_labels(curves: Sequence[RunCurve], labels: Sequence[tuple[str, str]]) -> list[RunCurve]:
    """Runs whose folder path (as given) matches GLOB are one group named NAME, in the table and
    the figure: a reader's name ("PAL, all data") where the config keys that tell runs apart
    would run to a line. A label that matches no run, or a run two labels match, is an error
    (a typo would otherwise leave runs silently unlabelled)."""
    out = list(curves)
    for name, pattern in labels:
        matched = [i for i, c in enumerate(curves) if fnmatch.fnmatchcase(Path(c.folder).as_posix(), pattern)]
        if not matched:
            raise UserInputError(f"--label {name}={pattern} matches none of the run folders given")
        for i in matched:
            if out[i].label:
                raise UserInputError(f"{curves[i].folder} matches two labels: {out[i].label!r} "
                                     f"and {name!r}")
            out[i] = replace(out[i], algo=name, label=name)
    return out


def method_name(algo: str) -> str:
    """PAL, MAL+MBPO, PAL [model.wrap_angles=false]: the algorithm upper-case, a variant as is."""
    base, sep, variant = algo.partition(" [")
    return base.upper() + sep + variant


def mean_and_ci(matrix: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Mean over rows (seeds) and the half-width of its t-interval, ignoring NaN entries."""
    count = np.sum(~np.isnan(matrix), axis=0)
    with warnings.catch_warnings():  # grid points one seed covers: no spread, interval 0
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(matrix, axis=0)
        sem = np.nanstd(matrix, axis=0, ddof=1) / np.sqrt(np.maximum(count, 1)) \
            if matrix.shape[0] > 1 else np.zeros_like(mean)
        # seeds that agree exactly (0.2 three times) give a rounding-sized spread: call it none
        sem = np.where(sem <= 1e-12 * np.maximum(1.0, np.abs(mean)), 0.0, sem)
    scale = np.where(count > 1, stats.t.ppf(0.5 + confidence / 2, np.maximum(count - 1, 1)), 0.0)
    return mean, np.nan_to_num(sem * scale)


def on_grid(curves: Sequence[RunCurve], grid: np.ndarray) -> np.ndarray:
    out = np.full((len(curves), grid.size), np.nan)
    for i, c in enumerate(curves):
        inside = (grid >= c.samples[0]) & (grid <= c.samples[-1])
        out[i, inside] = np.interp(grid[inside], c.samples, c.values)
    return out


def group(curves: Sequence[RunCurve]) -> dict[tuple[str, str], list[RunCurve]]:
    groups: dict[tuple[str, str], list[RunCurve]] = defaultdict(list)
    for c in curves:
        groups[(c.task, c.algo)].append(c)
    return dict(sorted(groups.items()))


def shared_grid(xs: Sequence[np.ndarray], points: int = 200) -> np.ndarray:
    """Where a mean over seeds is drawn: the x range every seed covers. Past the shortest seed a
    "mean" would follow whichever seeds ran longest (each seed's own line still shows all of it)."""
    return np.linspace(max(float(x[0]) for x in xs), min(float(x[-1]) for x in xs), points)


def plot(groups: dict, metric: str, path: Path, title: str, target: Optional[float],
         x_axis: str = "samples", published: Sequence[PublishedCurve] = ()) -> None:
    """Mean over seeds with its 95% band and every seed's own curve. With three or more groups
    each gets its own panel (shared axes), so bands do not hide each other. The mean is drawn over
    the samples every seed covers; the band is clipped to the range the data covers: with three
    seeds and returns that are either 0 or 1000, the t-interval of the mean reaches far past
    anything a return can be."""
    from stackelberg.runner.plots import pyplot

    plt = pyplot()

    items = list(groups.items())
    n = len(items) if len(items) >= 3 else 1
    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 if n == 1 else 5.2 * cols, 4.2 if n == 1 else 3.4 * rows),
                             sharex=True, sharey=True, squeeze=False)
    low = min(float(np.nanmin(c.values)) for _, cs in items for c in cs)
    high = max(float(np.nanmax(c.values)) for _, cs in items for c in cs)
    if published and x_axis != "samples":
        raise UserInputError("a published curve is over samples; drop --x seconds or --published")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    several_tasks = len({task for task, _ in groups}) > 1  # then the legend names the task too
    for i, ((task, algo), curves) in enumerate(items):
        ax = axes.flat[i if n > 1 else 0]
        color = colors[i % len(colors)]
        xs = [c.samples if x_axis == "samples" else c.seconds for c in curves]
        grid = shared_grid(xs)
        shifted = [replace(c, samples=x) for c, x in zip(curves, xs)]
        mean, ci = mean_and_ci(on_grid(shifted, grid))
        method = algo if curves[0].label else method_name(algo)
        name = f"{task} {method}" if several_tasks else method
        label = f"{name} ({len(curves)} seed{'s' if len(curves) > 1 else ''})"
        ax.plot(grid, mean, color=color, label=label, lw=2)
        ax.fill_between(grid, np.clip(mean - ci, low, high), np.clip(mean + ci, low, high),
                        color=color, alpha=0.2)
        for c in shifted:
            ax.plot(c.samples, c.values, color=color, alpha=0.35, lw=0.8)
        if x_axis == "samples":
            for at in sorted({at for c in curves for at, _ in c.changes}):
                ax.axvline(at, color="black", ls="--", lw=1, alpha=0.6)
        if target is not None:
            ax.axhline(target, color="gray", ls=":", lw=1)
        ax.grid(alpha=0.3)
        if n > 1:  # a panel per group: its name as the panel's title, where a long one fits
            ax.set_title(textwrap.fill(label, 70), fontsize=8, color=color)  # a variant's keys run long
    for ax in axes.flat[:len(items) if n > 1 else 1]:
        for k, curve in enumerate(published):
            draw_published(ax, curve, ("black", "dimgray", "gray")[k % 3])
        if n == 1 or published:
            ax.legend(loc="best", fontsize=8 if n == 1 else 7)
    for ax in axes.flat[len(items) if n > 1 else 1:]:
        ax.set_visible(False)
    for ax in axes.flat[len(items) - cols:len(items)] if n > 1 else axes[-1]:
        ax.xaxis.set_tick_params(labelbottom=True)  # the lowest panel of each column, even above a hidden one
        ax.set_xlabel("environment samples" if x_axis == "samples" else "wall-clock seconds")
    for ax in axes[:, 0]:
        ax.set_ylabel(metric.replace("_", " "))
    title = title or f"{metric.replace('_', ' ')}: mean over seeds, 95% t-interval, each seed thin"
    fig.suptitle(textwrap.fill(title, width=int(fig.get_figwidth() * 11)))  # long titles wrap, not cut
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def draw_published(ax: Any, curve: PublishedCurve, color: str) -> None:
    """Dashed, with its own spread where the source gives one: it is data, not a run here."""
    ax.plot(curve.samples, curve.mean, color=color, ls="--", lw=1.8, label=f"{curve.label} (published)")
    if not np.isnan(curve.std).all():
        ax.fill_between(curve.samples, curve.mean - curve.std, curve.mean + curve.std, color=color,
                        alpha=0.08, linewidth=0)


def published_rows(published: Sequence[PublishedCurve], target: Optional[float],
                   lower_is_better: bool) -> list[str]:
    """Table rows of published curves, in `table`'s columns; timing is not theirs to give."""
    best = np.nanmin if lower_is_better else np.nanmax
    lines = []
    for curve in published:
        row = [curve.task, f"{curve.label} (published)", "-", str(int(curve.samples[-1])),
               f"{_num(float(curve.mean[-1]))} (published mean)", _num(float(best(curve.mean)))]
        if target is not None:
            hit = curve.first_reaching(target, lower_is_better)
            row.append("not reached" if hit is None else f"{hit} (mean curve)")
        row += ["-", "-"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _num(x: float) -> str:
    """Returns like 1000.0 in full, distances like 0.0123 with three significant digits."""
    return f"{x:.1f}" if abs(x) >= 100 else f"{x:.3g}"


def table(groups: dict, metric: str, target: Optional[float], lower_is_better: bool = False,
          published: Sequence[PublishedCurve] = ()) -> str:
    best_name = "lowest" if lower_is_better else "best"
    head = ["task", "algo", "seeds", "samples (last)", f"final {metric} (mean ± 95% CI)",
            f"{best_name} {metric} (mean)"]
    if target is not None:
        head.append(f"samples to reach {target:g} (per seed)")
    head += ["s/iteration (mean)", "s per 1000 samples (mean)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    best = np.min if lower_is_better else np.max
    for (task, algo), curves in groups.items():
        finals = np.array([c.values[-1] for c in curves])
        mean, ci = mean_and_ci(finals[:, None])
        row = [task, algo, str(len(curves)), ", ".join(str(int(c.samples[-1])) for c in curves),
               f"{_num(mean[0])} ± {_num(ci[0])}" if len(curves) > 1 else f"{_num(mean[0])} (one seed)",
               _num(float(np.mean([best(c.values) for c in curves])))]
        if target is not None:
            row.append(hits_text([c.first_reaching(target, lower_is_better) for c in curves]))
        row.append(f"{np.mean([c.seconds[-1] / len(c.values) for c in curves]):.1f}")
        row.append(f"{np.mean([1000 * c.seconds[-1] / c.samples[-1] for c in curves]):.1f}")
        lines.append("| " + " | ".join(row) + " |")
    lines += published_rows(published, target, lower_is_better)
    extra = [text for text in (ratio_table(groups, published, target, lower_is_better),
                               recovery_table(groups, metric, lower_is_better)) if text]
    return "\n\n".join(["\n".join(lines), *extra])


def hits_text(hits: Sequence[Optional[int]]) -> str:
    """Samples each seed needed, and their mean with its 95% interval once every seed got there."""
    text = ", ".join("not reached" if h is None else str(h) for h in hits)
    if len(hits) > 1 and all(h is not None for h in hits):
        mean, ci = mean_and_ci(np.array(hits, dtype=float)[:, None])
        text += f" (mean {mean[0]:.0f} ± {ci[0]:.0f})"
    return text


def samples_to_target(groups: dict, published: Sequence[PublishedCurve], target: float,
                      lower_is_better: bool) -> dict[str, float]:
    """Mean samples to the target of every group whose seeds all reach it, and of every published
    curve whose mean reaches it: the entries a sample-efficiency ratio can be taken between."""
    entries: dict[str, float] = {}
    for (task, algo), curves in groups.items():
        hits = [c.first_reaching(target, lower_is_better) for c in curves]
        if all(h is not None for h in hits):
            entries[f"{task} {algo}"] = float(np.mean(hits))
    for curve in published:
        hit = curve.first_reaching(target, lower_is_better)
        if hit is not None:
            entries[f"{curve.task} {curve.label} (published)"] = float(hit)
    return entries


def ratio_table(groups: dict, published: Sequence[PublishedCurve], target: Optional[float],
                lower_is_better: bool) -> str:
    """[P]'s "twice as sample-efficient" as a number: row's mean samples to the target divided by
    column's, for every method whose seeds all reach it (a censored seed has no count to divide)."""
    if target is None:
        return ""
    entries = samples_to_target(groups, published, target, lower_is_better)
    if len(entries) < 2:
        return ""
    names = list(entries)
    lines = [f"samples to reach {target:g}, row / column (mean over seeds; methods with a seed "
             "that never reaches it are left out)", "",
             "| | " + " | ".join(names) + " |", "|" + "---|" * (len(names) + 1)]
    for a in names:
        lines.append(f"| {a} | " + " | ".join(f"{entries[a] / entries[b]:.2f}" for b in names) + " |")
    return "\n".join(lines)


def recovery_table(groups: dict, metric: str, lower_is_better: bool) -> str:
    """One row per run and world change: the level before, the hit, and the samples it took to
    get back (the paper's Figure 4 question: who recovers faster)."""
    head = ["task", "algo", "seed", "change", "at samples", f"{metric} before (last 3 evals)",
            "first eval after", "mean of the evals after", "samples to recover"]
    lines = []
    for (task, algo), curves in groups.items():
        for c in curves:
            for at, text in c.changes:
                level, first, back = c.recovery(at, lower_is_better)
                lines.append(f"| {task} | {algo} | {c.seed} | {text} | {at} | {_num(level)} | "
                             f"{_num(first)} | {_num(c.mean_after(at))} | "
                             f"{'not within the run' if back is None else back} |")
    if not lines:
        return ""
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *lines])


def bins_table(groups: dict, metric: str, width: float) -> str:
    """One row per run: the mean of `metric` in each `width`-sample bin."""
    runs = [c for curves in groups.values() for c in curves]
    binned = [c.binned(width) for c in runs]
    starts = sorted(set().union(*binned))
    head = ["task", "algo", "seed", *(f"{k:,}+" for k in starts)]
    lines = [f"mean {metric} per {width:,.0f}-sample bin (a column starts at its samples)",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c, bins in zip(runs, binned):
        cells = [_num(bins[k]) if k in bins and not math.isnan(bins[k]) else "-" for k in starts]
        lines.append("| " + " | ".join([c.task, c.algo, str(c.seed), *cells]) + " |")
    return "\n".join(lines)


# the phases of an iteration that metrics.csv times; `seconds` is their sum with the bookkeeping
_PHASES = ("fit", "improve", "collect", "eval")


def timing_table(curves: Sequence[RunCurve], target: Optional[float] = None,
                 lower_is_better: bool = False) -> str:
    """One row per run: the seconds per 1000 samples after the initial iteration (whose random
    samples and first fit are a fixed cost, not a rate), the share of each phase in them, and
    with a target the run's cumulative seconds at its first evaluation reaching it. Read from
    the run's metrics.csv up to the curve's last evaluation (so `--until` holds here too)."""
    head = ["task", "algo", "seed", "initial samples", "initial seconds",
            "s per 1000 samples after it", *(f"{p} share" for p in _PHASES)]
    if target is not None:
        head.append(f"seconds to reach {target:g}")
    lines = ["seconds after the initial iteration, from each run's metrics.csv", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in curves:
        metrics = RunFolder(c.folder).metrics_file
        rows, samples, _, _ = read_metrics(metrics, "seconds")
        kept = [r for r, s in zip(rows, samples) if s <= c.samples[-1]]
        later = kept[1:]
        total = sum(float(r["seconds"]) for r in later)
        cells = [c.task, c.algo, str(c.seed), str(int(samples[0])), f"{float(kept[0]['seconds']):.1f}"]
        if later:
            cells.append(f"{1000 * total / (c.samples[-1] - samples[0]):.1f}")
            where = str(metrics)
            cells += [f"{sum(_number(r[f'{p}_seconds'], f'{where}: {p}_seconds', True) for r in later) / total:.0%}"
                      if total > 0 and all(f"{p}_seconds" in r for r in later) else "-"
                      for p in _PHASES]
        else:
            cells += ["-"] * (1 + len(_PHASES))
        if target is not None:
            hits = np.nonzero(c.values <= target if lower_is_better else c.values >= target)[0]
            cells.append(f"{c.seconds[hits[0]]:.1f}" if hits.size else "not reached")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
