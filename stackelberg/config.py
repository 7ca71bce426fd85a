"""A run's config: `[run]`, `[schedule]` and one section per registered player, loadable from TOML.

Each player's settings dataclass lives beside it and is registered with the player
(`core.registry`): its section is `[section]`, set with `--set section.key=value`, in a sweep's
overrides, recorded in config.toml and restored on resume. Each knob's limits, choices and
resume rule are declared once, on its field (`core.knobs`); this module checks them, composes
the sections into `Config` and resolves a run's config (`resolve_config`: algorithm defaults <
TOML < overrides). Unknown keys and values of the wrong type are rejected with a message naming
the valid choices.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional, Sequence

if TYPE_CHECKING:
    import torch

import stackelberg.mbpo  # noqa: F401  (the built-in players register themselves on import)
import stackelberg.memb  # noqa: F401
import stackelberg.models  # noqa: F401
import stackelberg.npg  # noqa: F401
import stackelberg.m3po  # noqa: F401  (after mbpo, memb, models, npg: keeps their registration order)
from stackelberg import tasks
from stackelberg.core.errors import UserInputError
from stackelberg.core.knobs import (KnobInfo, check_field, check_rules, has_control_characters, knob,
                                    knobs, shown)
from stackelberg.core.registry import (entries, import_modules, model_player_for, model_players,
                                       policy_entry, policy_players, sections)
from stackelberg.core.schedules import PAL, SCHEDULES, Schedule, make_schedule
from stackelberg.worlds.perturbations import Perturbation, check_perturbations, parse_perturbation


@dataclass
class RunConfig:
    """The `[run]` section: which task, algorithm and players, the sample budget and seed, and
    the run's bookkeeping (checkpoints, snapshots, plots, videos, stop rule, perturbations)."""

    task: str = knob("inverted-pendulum", "the task", choices=tasks.names)
    algo: str = knob("pal", "the game solver: pal, mal, gda or br", choices=lambda: sorted(SCHEDULES))
    # the policy player: "npg" ([P] Subroutine 1), "mbpo" (SAC on branched model rollouts),
    # "sac" (model-free SAC on real data only, no model player) or a registered one
    policy: str = knob("npg", "the policy player", choices=policy_players)
    # the model player: "deterministic" ([P]), "probabilistic" (MBPO's), "none" (model-free),
    # "auto" = the policy's own
    model_player: str = knob("auto", "the model player (auto = the policy player's own)",
                             choices=model_players)
    samples: int = knob(10_000, "real environment steps to collect", limits=">= 1",
                        resumable=True, incidental=True, bookkeeping=True)
    seed: int = knob(0, "the run's seed", limits="[0, 4294967295]", bookkeeping=True)
    device: str = knob("cpu", "cpu, cuda or cuda:N", bookkeeping=True)
    # where the folder is says nothing about the run, and an absolute path would tie the record
    # to one machine (a moved or cloned folder resumes as is)
    out: Optional[str] = knob(None, "the run folder", recorded=False, incidental=True,
                              bookkeeping=True)
    eval_episodes: int = knob(5, "evaluation episodes per iteration", limits=">= 0", resumable=True)
    threads: int = knob(0, "torch threads; 0 = all cores", limits="[0, 4096]", resumable=True,
                        incidental=True, bookkeeping=True)
    # flush denormal floats to zero on the CPU (`torch.set_flush_denormal`): 6x faster value fit
    # once the pendulum balances; numbers differ from the first denormal on, within noise on 3
    # seeds (runs/notes/speed.md). A record without this key ran without flushing.
    flush_denormal: bool = knob(True, "flush denormal floats to zero", resumable=True,
                                saved_without=False)
    checkpoint_every: int = knob(1, "iterations between checkpoints", limits=">= 1",
                                 resumable=True, bookkeeping=True)
    snapshot_every: int = knob(10, "keep snapshots/iter_XXXX.pt every K iterations; 0 = off",
                               limits=">= 0", resumable=True, bookkeeping=True)
    plot_every: int = knob(5, "redraw the learning curve every K iterations; 0 = off",
                           limits=">= 0", resumable=True, bookkeeping=True)
    render_every: int = knob(0, "a video of one episode every K iterations; 0 = off",
                             limits=">= 0", resumable=True, bookkeeping=True)
    tensorboard: bool = knob(False, "also write every metric to <out>/tensorboard",
                             resumable=True, bookkeeping=True)
    # end the run early once a complete `stop_window`-sample bin of evaluations has mean
    # `stop_metric` >= `stop_value` (`--stop-at eval_success=0.9`; runner/stop_rule.py);
    # "" = run the whole budget
    stop_metric: str = knob("", "eval_return, eval_success or \"\" (no early stop)",
                            resumable=True, bookkeeping=True)
    stop_value: float = knob(0.0, "the early stop's target", resumable=True, bookkeeping=True)
    stop_window: int = knob(10_000, "samples per bin of the early stop", limits=">= 1",
                            resumable=True, bookkeeping=True)
    # world changes during the run, e.g. "dynamics@10000:target=forearm,scale=1.3" or "goals@8000"
    # (syntax and defaults: stackelberg/worlds/perturbations.py). Parsed once, when set: the
    # field holds `Perturbation` objects (text in TOML, with sizes filled in once resolved)
    perturb: tuple[Perturbation, ...] = knob((), "world changes during the run")
    # modules imported before the run is built (`--import`): a user's own tasks and players
    # register themselves on import; a resume, a sweep cell and `diagnose` import them again
    imports: tuple[str, ...] = knob((), "modules that register your own tasks and players")

    def rules(self) -> list[tuple[bool, str]]:
        return [
            (self.stop_metric in ("", "eval_return", "eval_success"),
             f"stop_metric must be eval_return, eval_success or \"\" (no early stop), got "
             f"{shown(self.stop_metric)}"),
            (re.fullmatch(r"cpu|cuda(:\d+)?", self.device) is not None,
             f"device must be cpu, cuda or cuda:N, got {shown(self.device)}"),
        ]


#: keys of an older layout -> today's key, besides those a player declares (`renamed_keys`)
RENAMED_KEYS: dict[str, str] = {"schedule.npg_steps": "schedule.policy_steps"}


class Config:
    """`run`, `schedule` and one settings object per registered player's section, each an
    attribute (`config.npg`) and an item of `sections`. A section registered later (a user's
    module imported after this object was made) is added by `refresh_sections`."""

    def __init__(self, run: Optional[RunConfig] = None, schedule: Optional[Schedule] = None,
                 **player_sections: Any):
        self.run = run or RunConfig()
        self.schedule = schedule or PAL()
        self.sections: dict[str, Any] = {}
        self.refresh_sections()
        self.sections.update(player_sections)

    def refresh_sections(self) -> None:
        """Add the default settings of every registered section this config lacks."""
        for name, cls in sections().items():
            if name not in self.sections:
                self.sections[name] = cls()

    def __getattr__(self, name: str) -> Any:
        found = self.__dict__.get("sections", {})
        if name in found:
            return found[name]
        raise AttributeError(f"config has no section {name!r}")

    def items(self) -> Iterator[tuple[str, Any]]:
        """(section name, settings object), `run` and `schedule` first."""
        yield "run", self.run
        yield "schedule", self.schedule
        yield from self.sections.items()

    def section(self, name: str) -> Any:
        return dict(self.items()).get(name)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and dict(self.items()) == dict(other.items())

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    @property
    def model_player(self) -> str:
        """The model player the run uses (`run.model_player`, "auto" resolved)."""
        return model_player_for(self.run.policy, self.run.model_player)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for name, obj in self.items():
            section = {g.name: getattr(obj, g.name) for g in dataclasses.fields(obj)}
            # TOML has no null: None is written as "none", which every Optional field reads back
            out[name] = {k: ([_plain(i) for i in v] if isinstance(v, tuple) else
                             "none" if v is None else v)
                         for k, v in section.items()}
        return out

    def validate(self) -> None:
        """Reject impossible values before anything runs: every field's type, limits and
        choices (`check_fields`), then the rules that tie fields together."""
        check_fields(self)
        if self.run.algo != self.schedule.name:
            raise UserInputError(f"run.algo ({self.run.algo}) and schedule.name "
                                 f"({self.schedule.name}) must agree")
        for name, obj in self.items():
            check_rules(name, obj)


def _plain(value: Any) -> Any:
    """A field value as TOML holds it (a perturbation as its text)."""
    return value.to_text() if isinstance(value, Perturbation) else value


def knob_facts(config: Config) -> dict[str, KnobInfo]:
    """`section.key` -> the facts its field declares, for every knob of `config`."""
    return {f"{name}.{f.name}": info for name, obj in config.items() for f, info in knobs(obj)}


def keys_where(config: Config, fact: str) -> frozenset[str]:
    """The `section.key`s whose field declares `fact` true (resumable, incidental, ...)."""
    return frozenset(k for k, info in knob_facts(config).items() if getattr(info, fact))


def saved_without_key(config: Config) -> dict[str, Any]:
    """Knobs added with a default other than the behaviour before them: the value a record
    written before the knob existed ran with, so such a folder resumes as it ran."""
    return {k: info.saved_without for k, info in knob_facts(config).items()
            if info.has_saved_without}


_TYPE_NAMES = {int: "int", float: "float", bool: "bool (true or false)", str: "str"}


_INTEGER_TEXT = re.compile(r"[+-]?\d+(_\d+)*")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a TOML/CLI value to the field's declared type, or explain why it cannot be.

    Command-line text is parsed (`--set run.samples=1000`); a TOML value must already have the
    type, so `seed = true`, `samples = 1e3` and `task = 5` are refused rather than guessed at
    (a bool is not an int, 1e3 is a float). Text for an int is digits only, as for `--samples`.
    Floats must be finite; "none" (or "inf") is None where the field allows it."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:  # Optional[X]
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "inf")) \
                or (isinstance(value, float) and value == math.inf):
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin is typing.Literal:
        if value not in args:
            raise UserInputError(f"{where} must be one of {', '.join(map(str, args))}, "
                                 f"got {shown(value)}")
        return value
    if origin is tuple:
        item_type = args[0] if args else str
        if isinstance(value, str) and item_type in (str, Perturbation):  # texts may hold commas
            value = [v.strip() for v in value.split(";") if v.strip()]
        elif isinstance(value, str):  # 64,64 or [64, 64] as config.toml shows it, or (64, 64)
            value = [v for v in value.strip().strip("[]()").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserInputError(f"{where} must be a list, got {shown(value)}")
        return tuple(_coerce(v, item_type, where) for v in value)
    if annotation is Perturbation:
        if isinstance(value, Perturbation):
            return value
        if not isinstance(value, str):
            raise UserInputError(f"{where} must be str, got {shown(value)}")
        if has_control_characters(value):
            raise UserInputError(f"every entry of {where} must be text without control characters, "
                                 f"got {shown(value)}")
        return parse_perturbation(value)
    if annotation not in _TYPE_NAMES:
        return value
    problem = ""  # what the value lacks, besides the type
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("false", "0", "no"):
            return False
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
            return int(value.strip())
    elif annotation is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                pass
        if number is not None:
            try:
                number = float(number)
            except OverflowError:  # an int too large for a float
                number = math.inf
            if math.isfinite(number):
                return number
            problem = "a finite "
    elif isinstance(value, str):
        return value
    raise UserInputError(f"{where} must be {problem}{_TYPE_NAMES[annotation]}, got {shown(value)}")


def renamed_keys() -> dict[str, str]:
    """Keys of an older layout (`policy.hidden_sizes`) -> the key that holds the knob today."""
    out = dict(RENAMED_KEYS)
    for entry in entries():
        out.update({old: f"{entry.section}.{new}" for old, new in entry.renamed_keys.items()})
    return out


def set_value(config: Config, dotted_key: str, value: Any) -> None:
    """Set `section.key` from a TOML or command-line value, with type checks."""
    dotted_key = renamed_keys().get(dotted_key, dotted_key)
    section_name, _, key = dotted_key.partition(".")
    config.refresh_sections()
    section = config.section(section_name)
    if section is None or not key:
        raise UserInputError(
            f"unknown config key {dotted_key!r}; keys look like section.key with section one of "
            f"{', '.join(name for name, _ in config.items())}")
    hints = typing.get_type_hints(type(section))
    if key not in hints:
        raise UserInputError(
            f"unknown config key {dotted_key!r}; valid keys in [{section_name}]: "
            f"{', '.join(sorted(hints))}")
    setattr(section, key, _coerce(value, hints[key], dotted_key))


def apply_dict(config: Config, data: Mapping[str, Any]) -> None:
    """Set every `[section] key = value` of TOML-shaped data (a file, a layer of defaults)."""
    config.refresh_sections()
    old_sections = {old.partition(".")[0] for old in renamed_keys()}
    for section_name, values in data.items():
        if config.section(section_name) is None and section_name not in old_sections:
            raise UserInputError(
                f"unknown config section [{section_name}]; valid sections: "
                f"{', '.join(name for name, _ in config.items())} (a module of yours registers "
                f"more: --import MODULE)")
        if not isinstance(values, dict):
            raise UserInputError(f"[{section_name}] must be a table of key = value lines")
        for key, value in values.items():
            set_value(config, f"{section_name}.{key}", value)


def check_fields(config: Config) -> None:
    """Every field of every section against its declared type (a value set in Python is
    checked as a TOML value is), its choices and its limits; one `UserInputError` naming the
    first bad field. Generic over the dataclasses, so new fields are covered without a line."""
    for name, section in config.items():
        hints = typing.get_type_hints(type(section))
        for f, info in knobs(section):
            key = f"{name}.{f.name}"
            value = _coerce(getattr(section, f.name), hints[f.name], key)
            check_field(key, value, info)
            setattr(section, f.name, value)


def load_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict; a missing, unreadable, non-UTF-8 or malformed file is a
    `UserInputError` naming the file."""
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        raise UserInputError(f"config file {str(path)!r} {what}")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UserInputError(f"cannot read config file {str(path)!r}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise UserInputError(f"config file {str(path)!r} is not UTF-8 text (byte {err.start} is "
                             f"{raw[err.start:err.start + 1]!r}); is it a TOML file?") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise UserInputError(f"config file {str(path)!r} is not valid TOML: {err}") from None


# what a run's config.toml must state: without them a file (say, an emptied one) would resume as
# a run with the defaults' task, algorithm and seed
SAVED_REQUIRED = ("task", "algo", "seed", "samples")


def _imports_of(run: Mapping[str, Any]) -> tuple[str, ...]:
    """`run.imports` of TOML-shaped data, checked as the field is."""
    imports = _coerce(run.get("imports", ()), typing.get_type_hints(RunConfig)["imports"],
                      "run.imports")
    check_field("run.imports", imports, KnobInfo())
    return imports


def upgraded_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """A run's record (config.toml's or a checkpoint's data) in today's layout: each player's
    `upgrade` hook moves what an older layout kept elsewhere (SAC's settings in `[mbpo]`);
    renamed keys are read by `set_value`."""
    record = copy.deepcopy(dict(data))
    for entry in entries():
        if entry.upgrade is not None:
            entry.upgrade(record)
    return record


def config_from_record(data: Mapping[str, Any], lenient: bool = False) -> Config:
    """The config a run's record describes: its algorithm's schedule, the values a record from
    before a knob existed ran with (`saved_without`), then every value of the record, after its
    modules (`run.imports`) are imported. `lenient`: a key the code no longer has is passed
    over and nothing is validated (a checkpoint's copy, compared key by key)."""
    given = data.get("run")
    run: Mapping[str, Any] = given if isinstance(given, dict) else {}
    import_modules(_imports_of(run))
    record = upgraded_record(data)
    config = Config(schedule=make_schedule(str(run.get("algo", "pal"))))
    for key, value in saved_without_key(config).items():
        set_value(config, key, value)
    if not lenient:
        apply_dict(config, record)
        config.validate()
        return config
    for section, values in record.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            try:  # under the record's own name: set_value reads a renamed key as today's
                set_value(config, f"{section}.{name}", value)
            except UserInputError:  # a field the code no longer has: compare the rest
                pass
    return config


def record_keys(data: Mapping[str, Any]) -> set[str]:
    """The `section.key`s a record sets, in today's names."""
    renamed = renamed_keys()
    return {renamed.get(f"{section}.{key}", f"{section}.{key}")
            for section, values in upgraded_record(data).items() if isinstance(values, dict)
            for key in values}


def load_saved_config(path: str | Path) -> Config:
    """A config.toml a run wrote, read back and validated (`config_from_record`): the schedule
    starts from its algorithm's defaults (a file need not list every schedule knob, nor the
    fields added since it was written), then every value in the file applies. A file without
    [run] and its identifying keys is refused, not filled with defaults."""
    data = load_toml(path)
    run = data.get("run")
    missing = [k for k in SAVED_REQUIRED if not isinstance(run, dict) or k not in run]
    if missing or not isinstance(run, dict):
        raise UserInputError(f"{path} is not a run's config: it lacks "
                             f"{', '.join('run.' + k for k in missing)}")
    if not isinstance(run["algo"], str):
        raise UserInputError(f"run.algo must be str, got {shown(run['algo'])} (in {path})")
    try:
        make_schedule(run["algo"])
        return config_from_record(data)
    except UserInputError as err:
        raise UserInputError(f"{err} (in {path})") from None


def config_record(config: Config) -> dict[str, dict[str, Any]]:
    """The resolved config as plain TOML-able data, without the knobs declared unrecorded (the
    folder's own path): what config.toml and a checkpoint store."""
    record = config.to_dict()
    for key in keys_where(config, "recorded") ^ frozenset(knob_facts(config)):
        section, _, name = key.partition(".")
        record[section].pop(name, None)
    return record


def config_to_toml(config: Config) -> str:
    """The resolved config as TOML text (read back with `load_saved_config`), written by a TOML
    writer so any text (quotes, backslashes, non-ASCII) survives the round trip."""
    import tomli_w

    return tomli_w.dumps(config_record(config))


# --- resolving a run's config -------------------------------------------------------------

#: (section.key, value) pairs, last one wins; values are TOML values or command-line text
Overrides = Sequence[tuple[str, Any]]


def _last(overrides: Overrides, key: str) -> Any:
    return next((v for k, v in reversed(list(overrides)) if k == key), None)


def resolve_config(toml: Optional[Mapping[str, Any]] = None, overrides: Overrides = ()) -> Config:
    """The config of a new run: the algorithm's (its schedule), the task's settings for that
    algorithm (`Task.algo_defaults`) and the policy player's defaults < `toml` (a config
    file's data) < `overrides`, validated against the task (every field, the perturbations
    against the task and the budget). Reads and writes no file; imports the modules of
    `run.imports` (file and overrides together) first, so their tasks and players count.
    `run.algo` is the one key that picks the defaults (the schedule), so it is read before the
    layers apply."""
    data = dict(toml or {})
    given = data.get("run")
    file_run: dict[str, Any] = given if isinstance(given, dict) else {}
    file_algo = file_run.get("algo", "pal")
    if not isinstance(file_algo, str):
        raise UserInputError(f"run.algo must be str, got {shown(file_algo)}")
    file_schedule = data.get("schedule")
    if isinstance(file_schedule, dict) and file_schedule.get("name", file_algo) != file_algo:
        raise UserInputError(f"schedule.name ({file_schedule['name']!r}) must be the algorithm, "
                             f"run.algo ({file_algo!r}); set run.algo (or pass --algo) instead")
    algo = str(_last(overrides, "run.algo") or file_algo).lower()
    if algo not in SCHEDULES:
        raise UserInputError(f"unknown algorithm {algo!r}; valid: {', '.join(sorted(SCHEDULES))}")
    config = Config()
    config.schedule = make_schedule(algo)
    # the modules first: they may register the task and players the layers name
    probe = Config()
    for key, value in [("run.imports", file_run.get("imports", ()))] + \
            [(k, v) for k, v in overrides if k == "run.imports"]:
        before = probe.run.imports
        set_value(probe, "run.imports", value)
        probe.run.imports = tuple(dict.fromkeys(before + probe.run.imports))
    import_modules(probe.run.imports)
    config.refresh_sections()
    policy = _last(overrides, "run.policy") or file_run.get("policy") or config.run.policy
    task_name = _last(overrides, "run.task") or file_run.get("task") or config.run.task
    if str(task_name) in tasks.names():
        task_defaults = tasks.make(str(task_name)).algo_defaults.get(algo, {})
        apply_dict(config, {section: dict(values) for section, values in task_defaults.items()})
    entry = policy_entry(str(policy)) if str(policy) in policy_players() else None
    if entry is not None and entry.defaults is not None:
        apply_dict(config, entry.defaults(str(task_name)))
    apply_dict(config, data)
    config.run.algo = config.schedule.name = algo
    for key, value in overrides:
        if key != "run.imports":
            set_value(config, key, value)
    config.run.imports = probe.run.imports
    if config.run.task not in tasks.names():
        raise UserInputError(f"unknown task {config.run.task!r}; valid tasks: "
                             f"{', '.join(tasks.names())} (a module of yours registers more: "
                             f"--import MODULE)")
    config.validate()
    task = tasks.make(config.run.task)
    # each section records the values the run uses, not "auto" or "none" (a later default or
    # another machine must not alter a resume)
    device_type, in_use = config.run.device.split(":")[0], {config.run.policy, config.model_player}
    for entry in entries():
        if entry.settle is not None and entry.config is not None:
            entry.settle(config.sections[entry.section], task, device_type, entry.name in in_use)
    if config.run.perturb:  # sizes filled in from the task, so the record says what happened
        checked = check_perturbations(task, config.run.perturb)
        late = [p for p in checked if p.at_samples >= config.run.samples]
        if late:
            raise UserInputError(
                f"perturbation {late[0].to_text()} is due at or after the budget of "
                f"{config.run.samples} samples, so it would never happen; raise --samples above "
                f"{late[0].at_samples} or drop it")
        config.run.perturb = tuple(checked)
    return config


def resumable_keys(config: Config) -> frozenset[str]:
    """What a resume may change: knobs read afresh every iteration that leave every array in
    the checkpoint valid (a budget, step sizes, bookkeeping), as their fields declare. Changing
    anything else (a seed, a size, the task, a buffer) would make the folder a different run
    than its checkpoint and data say; such a key is refused by name (runs/scripts/fork_run.py
    branches a run into a new folder)."""
    return keys_where(config, "resumable")


def _flat(config: Config) -> dict[str, Any]:
    """`section.key` -> value of the recorded config (what config.toml holds)."""
    return {f"{section}.{key}": value for section, values in config_record(config).items()
            for key, value in values.items()}


def config_changes(old: Config, new: Config) -> dict[str, tuple[Any, Any]]:
    """`section.key` -> (old, new) for every recorded value that differs."""
    before, after = _flat(old), _flat(new)
    return {key: (before.get(key), value) for key, value in after.items()
            if before.get(key) != value}


def refuse_unresumable(changes: dict[str, tuple[Any, Any]], where: str) -> None:
    """A `UserInputError` naming the first change a resume may not make, if any."""
    resumable = resumable_keys(Config())
    refused = [key for key in changes if key not in resumable]
    if refused:
        key = refused[0]
        old, new = changes[key]
        more = f" (and {', '.join(refused[1:])})" if len(refused) > 1 else ""
        raise UserInputError(
            f"{where} would change {key} from {old!r} to {new!r}{more}, which a resume cannot: "
            f"the folder would no longer be the run its checkpoint and data come from. A resume "
            f"may change {', '.join(sorted(resumable))}; to branch the run with other settings "
            f"use runs/scripts/fork_run.py")


def resume_config(saved: Config, overrides: Overrides = (), where: str = "--resume",
                  started: bool = True) -> Config:
    """A saved run's config (`load_saved_config`) with the changes a resume asks for; any change
    outside `resumable_keys` is refused by name, unless the run never `started` (no checkpoint:
    its first iteration never finished, so the resume starts it again from nothing)."""
    config = copy.deepcopy(saved)
    for key, value in overrides:
        set_value(config, key, value)
    if config.run.algo != config.schedule.name:
        refuse_unresumable({"run.algo": (saved.run.algo, config.run.algo)}, where)
    config.validate()
    if started:
        refuse_unresumable(config_changes(saved, config), where)
    return config


def check_device(name: str) -> "torch.device":
    """The torch device `run.device` names, or a `UserInputError` if this machine lacks it."""
    import torch

    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserInputError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    return torch.device(name)
