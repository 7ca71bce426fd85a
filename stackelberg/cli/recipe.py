"""Experiment recipes: a TOML file naming tasks x algorithms x seeds and the config changes
shared by their runs. Every cell is resolved exactly as `python -m stackelberg.run` would
resolve its command line, so a recipe is rejected with the CLI's own messages before anything
runs.

```toml
[sweep]
name = "pendulum-pal-vs-mal"            # default: the file's name
tasks = ["inverted-pendulum"]
algos = ["pal", "mal"]
seeds = [0, 1, 2]
samples = 10000
out = "runs/out/pendulum-pal-vs-mal"    # default runs/out/<name>; one folder per cell,
                                        # <out>/<task>-<algo>-s<seed> (relative to the cwd)
threads = 1                             # torch threads per cell (default 1)

[overrides]                             # any config section.key, for every cell
"npg.delta" = 0.05
[overrides.mal]                         # only for the cells of one algorithm (or one task);
"schedule.policy_steps" = 25               # precedence: [overrides] < task < algorithm
```

Nested tables work too: `[overrides.npg]` with `delta = 0.05` is `"npg.delta" = 0.05`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Optional, Sequence

from stackelberg import tasks
from stackelberg.config import Config, check_device, load_toml, resolve_config, set_value
from stackelberg.core.registry import import_modules
from stackelberg.core.errors import UserInputError
from stackelberg.core.schedules import SCHEDULES

SWEEP_KEYS = {"name": str, "tasks": list, "algos": list, "seeds": list, "samples": int,
              "out": str, "threads": int, "imports": list}
REQUIRED = ("tasks", "algos", "seeds", "samples")
# set per cell by the sweep itself, never through [overrides]
CELL_KEYS = {"run.task": "tasks", "run.algo": "algos", "run.seed": "seeds",
             "run.samples": "samples", "run.out": "out", "run.threads": "threads"}


@dataclass(frozen=True)
class Cell:
    """One run of a sweep: its folder and the CLI arguments that start or resume it."""

    task: str
    algo: str
    seed: int
    folder: Path
    samples: int
    threads: int
    # (section.key, TOML value) from [overrides], in precedence order
    overrides: tuple[tuple[str, Any], ...]
    # modules every cell imports first (sweep.imports and --import): a user's tasks and players
    imports: tuple[str, ...] = ()
    # the config `resolve_config` gives the cell, as its run process resolves it again from
    # `start_argv` (set by `load_recipe`)
    config: Optional[Config] = field(default=None, compare=False, repr=False)

    @property
    def sets(self) -> tuple[str, ...]:
        """The overrides as `--set` items for the cell's run process."""
        return tuple(f"{key}={_cli_text(value)}" for key, value in self.overrides)

    def run_overrides(self) -> list[tuple[str, Any]]:
        """What the cell's command line asks `resolve_config` for, as structured data."""
        cell = [("run.task", self.task), ("run.algo", self.algo), ("run.seed", self.seed),
                ("run.samples", self.samples), ("run.threads", self.threads),
                ("run.out", str(self.folder))]
        imports = [("run.imports", self.imports)] if self.imports else []
        return imports + cell + list(self.overrides)

    @property
    def name(self) -> str:
        return f"{self.task}-{self.algo}-s{self.seed}"

    def start_argv(self) -> list[str]:
        argv = ["--task", self.task, "--algo", self.algo, "--seed", str(self.seed),
                "--samples", str(self.samples), "--threads", str(self.threads),
                "--out", str(self.folder), "--no-progress"]
        for module in self.imports:
            argv += ["--import", module]
        for item in self.sets:
            argv += ["--set", item]
        return argv

    def resume_argv(self) -> list[str]:
        return ["--resume", "--out", str(self.folder), "--samples", str(self.samples),
                "--threads", str(self.threads), "--no-progress"]


@dataclass
class Recipe:
    path: Path
    name: str
    out: Path
    threads: int
    cells: list[Cell]


def load_recipe(path: str | Path, out: Optional[str | Path] = None,
                imports: Sequence[str] = ()) -> Recipe:
    """Parse and validate a whole recipe; raise `UserInputError` (one line) on any problem.
    `out` replaces sweep.out (the same experiment into another folder); `imports` adds modules
    to sweep.imports (imported here, before the tasks are checked, and by every cell)."""
    path = Path(path)
    data = load_toml(path)
    unknown = sorted(set(data) - {"sweep", "overrides"})
    if unknown:
        raise UserInputError(f"{path}: unknown table [{unknown[0]}]; a recipe has [sweep] and "
                             "[overrides]")
    sweep = data.get("sweep")
    if not isinstance(sweep, dict):
        raise UserInputError(f"{path}: no [sweep] table")
    listed = sweep.get("imports", [])
    if not isinstance(listed, list) or not all(isinstance(m, str) for m in listed):
        raise UserInputError(f"{path}: sweep.imports must be a list of module names")
    modules = tuple(dict.fromkeys([*listed, *imports]))
    import_modules(modules)
    sweep = _check_sweep(path, sweep)
    name = sweep.get("name", path.stem)
    out = Path(out if out is not None else sweep.get("out", f"runs/out/{name}"))
    threads = sweep.get("threads", 1)
    shared, per_name = _split_overrides(path, data.get("overrides", {}))

    cells = []
    for task in sweep["tasks"]:
        for algo in sweep["algos"]:
            sets = shared + per_name.get(task, []) + per_name.get(algo, [])
            for seed in sweep["seeds"]:
                cell = Cell(task, algo, seed, out / f"{task}-{algo}-s{seed}", sweep["samples"],
                            threads, tuple(sets), modules)
                cells.append(replace(cell, config=_resolve(path, cell)))
    return Recipe(path, name, out, threads, cells)


def _check_sweep(path: Path, sweep: dict[str, Any]) -> dict[str, Any]:
    for key, value in sweep.items():
        if key not in SWEEP_KEYS:
            raise UserInputError(f"{path}: unknown key sweep.{key}; valid keys in [sweep]: "
                                 f"{', '.join(SWEEP_KEYS)}")
        expected = SWEEP_KEYS[key]
        if not isinstance(value, expected) or isinstance(value, bool):
            raise UserInputError(f"{path}: sweep.{key} must be {expected.__name__}, got {value!r}")
    for key in REQUIRED:
        if key not in sweep:
            raise UserInputError(f"{path}: [sweep] needs {key} = ...")
    valid = {"tasks": tasks.names(), "algos": sorted(SCHEDULES)}  # the CLI's --task, --algo
    for key in ("tasks", "algos", "seeds"):
        values = sweep[key]
        if not values:
            raise UserInputError(f"{path}: sweep.{key} is empty")
        kind = int if key == "seeds" else str
        if not all(isinstance(v, kind) and not isinstance(v, bool) for v in values):
            raise UserInputError(f"{path}: sweep.{key} must be a list of {kind.__name__}, "
                                 f"got {values!r}")
        if len(set(values)) != len(values):
            raise UserInputError(f"{path}: sweep.{key} lists a value twice: {values!r}")
        if key in valid:
            for value in values:
                if value not in valid[key]:
                    # the CLI's wording for an unknown task
                    raise UserInputError(f"{path}: unknown {key[:-1]} {value!r}; valid {key}: "
                                         f"{', '.join(valid[key])}")
    if any(seed < 0 for seed in sweep["seeds"]):
        raise UserInputError(f"{path}: sweep.seeds must be >= 0, got {sweep['seeds']!r}")
    if sweep.get("threads", 1) < 1:
        raise UserInputError(f"{path}: sweep.threads must be >= 1 (torch threads per cell)")
    if sweep["samples"] <= 0:
        raise UserInputError(f"{path}: sweep.samples must be positive")
    return sweep


Pairs = list[tuple[str, Any]]


def _split_overrides(path: Path, overrides: Any) -> tuple[Pairs, dict[str, Pairs]]:
    """[overrides] -> the shared (key, value) pairs and those of each task or algorithm table."""
    if not isinstance(overrides, dict):
        raise UserInputError(f"{path}: [overrides] must be a table of \"section.key\" = value")
    names = set(tasks.names()) | set(SCHEDULES)
    shared: dict[str, Any] = {}
    per_name: dict[str, Pairs] = {}
    for key, value in overrides.items():
        if key in names and isinstance(value, dict):
            table: dict[str, Any] = {}
            for sub_key, sub_value in value.items():
                _flatten(path, f"overrides.{key}", sub_key, sub_value, table)
            per_name[key] = _as_sets(path, f"[overrides.{key}]", table)
        else:
            _flatten(path, "overrides", key, value, shared)
    return _as_sets(path, "[overrides]", shared), per_name


def _flatten(path: Path, where: str, key: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict):  # [overrides.npg] delta = ...  or unquoted npg.delta = ...
        # a section a module of `run.imports` registers is known only once resolved: the cell's
        # `resolve_config` refuses a table that is no section then
        if not key.isidentifier():
            hint = f"sections {', '.join(n for n, _ in Config().items())}, tasks and algorithms"
            raise UserInputError(f"{path}: unknown table [{where}.{key}]; valid: {hint}")
        for sub_key, sub_value in value.items():
            if isinstance(sub_value, dict):
                raise UserInputError(f"{path}: [{where}] {key}.{sub_key} must be a value, "
                                     "not a table")
            into[f"{key}.{sub_key}"] = sub_value
    else:
        into[key] = value


def _as_sets(path: Path, where: str, table: dict[str, Any]) -> Pairs:
    """Check every key and value as the CLI's --set would read them back: (key, value) pairs."""
    items = []
    for key, value in table.items():
        if key in CELL_KEYS:
            raise UserInputError(f"{path}: {where} cannot set {key}; it is sweep.{CELL_KEYS[key]}")
        try:
            text = _cli_text(value)
            set_value(Config(), key, text)
        except UserInputError as err:
            raise UserInputError(f"{path}: {where} {err}") from None
        items.append((key, value))
    return items


def _cli_text(value: Any) -> str:
    """A TOML value as `--set` reads it back (floats by repr, so they survive exactly)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                       for v in value):
        return ",".join(_cli_text(v) for v in value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return ";".join(value)  # lists of texts (run.perturb) may hold commas
    raise UserInputError(f"unsupported value {value!r} (use a number, string, boolean or list "
                         "of numbers or strings)")


def _resolve(path: Path, cell: Cell) -> Config:
    """The cell's config: `resolve_config` on what its run's command line says."""
    try:
        config = resolve_config(None, cell.run_overrides())
        check_device(config.run.device)
    except UserInputError as err:
        raise UserInputError(f"{path}: cell {cell.name}: {err}") from None
    return config
