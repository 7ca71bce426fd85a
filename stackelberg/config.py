"""A run's config composed of the components' own configs, loadable from TOML.

Each component's dataclass lives beside it (`models.config`, `npg.config`, `mbpo.config`,
`core.schedules`); this module only composes them into `Config` and resolves a run's config
(`resolve_config`: algorithm defaults < TOML < overrides).

Sections: `[run]`, `[schedule]`, `[model]`, `[policy]`, `[npg]`, for the MBPO backend
`[mbpo]` and `[probabilistic_model]`, and for MEMB `[memb]`. Unknown keys and values of the
wrong type are rejected with a message naming the valid choices.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

if TYPE_CHECKING:
    import torch

from stackelberg.core.errors import UserInputError
from stackelberg.mbpo.config import MBPOConfig
from stackelberg.memb.config import MEMBConfig
from stackelberg.models.config import FIT_PRECISIONS, ModelConfig, ProbabilisticModelConfig
from stackelberg.npg.config import NPGConfig, PolicyConfig, start_fraction_for
from stackelberg.core.registry import (import_modules, model_players, policy_entry,
                                       policy_players)
from stackelberg.core.schedules import PAL, SCHEDULES, Schedule, make_schedule
from stackelberg.worlds.perturbations import Perturbation, check_perturbations, parse_perturbation


@dataclass
class RunConfig:
    """The `[run]` section: which task, algorithm and players, the sample budget and seed, and
    the run's bookkeeping (checkpoints, snapshots, plots, videos, stop rule, perturbations)."""

    task: str = "inverted-pendulum"
    algo: str = "pal"
    # the policy player: "npg" ([P] Subroutine 1), "mbpo" (SAC on branched model rollouts) or
    # "sac" (model-free SAC on real data only, no model player: [P] Figure 2's comparison line)
    policy: str = "npg"
    # the model player: "deterministic" ([P]), "probabilistic" (MBPO's), "none" (model-free SAC),
    # "auto" = the policy's own
    model_player: str = "auto"
    samples: int = 10_000
    seed: int = 0
    device: str = "cpu"
    out: Optional[str] = None
    eval_episodes: int = 5
    threads: int = 0  # torch threads; 0 = all cores
    # flush denormal floats to zero on the CPU (`torch.set_flush_denormal`): 6x faster value fit
    # once the pendulum balances; numbers differ from the first denormal on, within noise on 3
    # seeds (runs/notes/speed.md); false = off, as before issue 32
    flush_denormal: bool = True
    checkpoint_every: int = 1
    snapshot_every: int = 10  # keep snapshots/iter_XXXX.pt (policy + model) for diagnostics; 0 = off
    plot_every: int = 5
    render_every: int = 0  # a video of one episode every K iterations into <out>/videos; 0 = off
    tensorboard: bool = False  # also write every metric to <out>/tensorboard (needs tensorboard)
    # end the run early once a complete `stop_window`-sample bin of evaluations has mean
    # `stop_metric` >= `stop_value` (`--stop-at eval_success=0.9`; stackelberg/core/stop_rule.py);
    # "" = run the whole budget
    stop_metric: str = ""
    stop_value: float = 0.0
    stop_window: int = 10_000
    # world changes during the run, e.g. "dynamics@10000:target=forearm,scale=1.3" or "goals@8000"
    # (syntax and defaults: stackelberg/worlds/perturbations.py). Parsed once, when set: the
    # field holds `Perturbation` objects (text in TOML, with sizes filled in once resolved)
    perturb: tuple[Perturbation, ...] = ()
    # modules imported before the run is built (`--import`): a user's own tasks and players
    # register themselves on import; a resume, a sweep cell and `diagnose` import them again
    imports: tuple[str, ...] = ()


@dataclass
class Config:
    """A run's whole configuration, one field per TOML section; what config.toml holds and
    `resolve_config` returns (algorithm defaults < TOML < overrides)."""

    run: RunConfig = field(default_factory=RunConfig)
    schedule: Schedule = field(default_factory=PAL)
    model: ModelConfig = field(default_factory=ModelConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    npg: NPGConfig = field(default_factory=NPGConfig)
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    probabilistic_model: ProbabilisticModelConfig = field(default_factory=ProbabilisticModelConfig)
    memb: MEMBConfig = field(default_factory=MEMBConfig)

    @property
    def model_player(self) -> str:
        """The model player that `run.model_player = "auto"` resolves to."""
        if self.run.model_player != "auto":
            return self.run.model_player
        from stackelberg.core.registry import _POLICY

        entry = _POLICY.get(self.run.policy)
        return entry.model_player if entry is not None else "deterministic"

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for f in dataclasses.fields(self):
            obj = getattr(self, f.name)
            section = {g.name: getattr(obj, g.name) for g in dataclasses.fields(obj)}
            # TOML has no null: None is written as "none", which every Optional field reads back
            out[f.name] = {k: ([_plain(i) for i in v] if isinstance(v, tuple) else
                               "none" if v is None else v)
                           for k, v in section.items()}
        return out

    def validate(self) -> None:
        """Reject impossible values before anything runs: every field's type and limits
        (`check_fields`), then the rules that tie fields together."""
        check_fields(self)
        checks = [
            (self.run.algo == self.schedule.name,
             f"run.algo ({self.run.algo}) and schedule.name ({self.schedule.name}) must agree"),
            (self.run.samples > 0, "run.samples must be positive"),
            (self.run.eval_episodes >= 0, "run.eval_episodes must be >= 0"),
            (self.run.policy in policy_players(),
             f"run.policy must be one of {', '.join(policy_players())}, got {self.run.policy!r} "
             f"(a module of yours registers more: --import MODULE)"),
            (self.run.model_player in model_players(),
             f"run.model_player must be one of {', '.join(model_players())}, got "
             f"{self.run.model_player!r} (a module of yours registers more: --import MODULE)"),
            (self.run.stop_metric in ("", "eval_return", "eval_success"),
             f"run.stop_metric must be eval_return, eval_success or \"\" (no early stop), got "
             f"{shown(self.run.stop_metric)}"),
            (re.fullmatch(r"cpu|cuda(:\d+)?", self.run.device) is not None,
             f"run.device must be cpu, cuda or cuda:N, got {shown(self.run.device)}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)
        for section in (self.model, self.policy, self.npg, self.schedule, self.mbpo,
                        self.probabilistic_model, self.memb):
            section.validate()  # each component checks its own fields


def _plain(value: Any) -> Any:
    """A field value as TOML holds it (a perturbation as its text)."""
    return value.to_text() if isinstance(value, Perturbation) else value


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def _section_class(name: str) -> type:
    return {"run": RunConfig, "schedule": Schedule, "model": ModelConfig,
            "policy": PolicyConfig, "npg": NPGConfig, "mbpo": MBPOConfig,
            "probabilistic_model": ProbabilisticModelConfig, "memb": MEMBConfig}[name]


_TYPE_NAMES = {int: "int", float: "float", bool: "bool (true or false)", str: "str"}


def shown(value: Any, width: int = 60) -> str:
    """`repr(value)`, cut to `width` characters: a message stays one readable line."""
    text = repr(value)
    return text if len(text) <= width else text[:width - 3] + "..."


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
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
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


def set_value(config: Config, dotted_key: str, value: Any) -> None:
    """Set `section.key` from a TOML or command-line value, with type checks."""
    section_name, _, key = dotted_key.partition(".")
    if section_name not in SECTIONS or not key:
        raise UserInputError(
            f"unknown config key {dotted_key!r}; keys look like section.key with section one of "
            f"{', '.join(SECTIONS)}")
    section = getattr(config, section_name)
    hints = typing.get_type_hints(type(section))
    if key not in hints:
        raise UserInputError(
            f"unknown config key {dotted_key!r}; valid keys in [{section_name}]: "
            f"{', '.join(sorted(hints))}")
    setattr(section, key, _coerce(value, hints[key], dotted_key))


def apply_dict(config: Config, data: dict[str, Any]) -> None:
    for section_name, values in data.items():
        if section_name not in SECTIONS:
            raise UserInputError(
                f"unknown config section [{section_name}]; valid sections: {', '.join(SECTIONS)}")
        if not isinstance(values, dict):
            raise UserInputError(f"[{section_name}] must be a table of key = value lines")
        for key, value in values.items():
            set_value(config, f"{section_name}.{key}", value)


# What each number may be beyond its declared type, in interval notation ("(0, 1]") or as a
# bound (">= 1"); for a list field, every entry. Fields not listed get `_LIMITS_BY_NAME` by
# the end of their name, so a field added later is checked too; every field, listed or not, is
# checked against its type, and numbers must be finite and fit in 64 bits.
FIELD_LIMITS: dict[str, str] = {
    "run.samples": ">= 1", "run.seed": "[0, 4294967295]", "run.eval_episodes": ">= 0",
    "run.threads": "[0, 4096]", "run.checkpoint_every": ">= 1", "run.snapshot_every": ">= 0",
    "run.plot_every": ">= 0", "run.stop_window": ">= 1",
    "schedule.initial_samples": ">= 1", "schedule.samples_per_iteration": ">= 1",
    "schedule.samples_horizon_multiple": ">= 1", "schedule.samples_cap": ">= 1",
    "schedule.buffer_capacity": ">= 1", "schedule.model_epochs": ">= 1",
    "schedule.model_min_steps": ">= 0", "schedule.model_max_steps": ">= 1",
    "schedule.npg_steps": ">= 1",
    "model.ensemble_size": ">= 1", "model.weight_decay": ">= 0", "model.clamp_state": "> 0",
    "npg.delta": "> 0", "npg.gae_lambda": "[0, 1]", "npg.cg_iters": ">= 1",
    "npg.cg_damping": ">= 0", "npg.fvp_sample_fraction": "(0, 1]", "npg.max_kl": "> 0",
    "npg.num_trajectories": "[1, 1000000]", "npg.horizon_cap": ">= 1", "npg.min_rollout_length": ">= 1",
    "npg.action_clamp": "> 0", "npg.value_weight_decay": ">= 0", "npg.value_epochs": ">= 1",
    "mbpo.tau": "(0, 1]", "mbpo.updates_per_step": ">= 0", "mbpo.rollout_schedule": ">= 0",
    "mbpo.epoch_length": ">= 1", "mbpo.rollouts_per_env_step": ">= 0",
    "mbpo.retain_epochs": ">= 1", "mbpo.min_pool_size": ">= 0", "mbpo.rollout_chunk": ">= 1",
    "mbpo.initial_random_steps": ">= 1", "mbpo.model_train_freq": ">= 1",
    "probabilistic_model.ensemble_size": ">= 1", "probabilistic_model.num_elites": ">= 1",
    "probabilistic_model.weight_decays": ">= 0", "probabilistic_model.holdout_ratio": "[0, 1)",
    "probabilistic_model.max_holdout": ">= 0", "probabilistic_model.improvement_threshold": ">= 0",
}
# (name or last word of the name, limit) for fields FIELD_LIMITS does not list
_LIMITS_BY_NAME = (("lr", "> 0"), ("batch_size", ">= 1"), ("hidden_sizes", ">= 1"),
                   ("every", ">= 0"), ("fraction", "[0, 1]"), ("ratio", "[0, 1]"),
                   ("gamma", "(0, 1]"), ("coef", ">= 0"), ("epochs", ">= 1"),
                   ("patience", ">= 0"))
_INT64 = (-2**63, 2**63 - 1)


def _field_choices() -> dict[str, Sequence[str]]:
    """Text fields with a fixed set of values (read when checking, so additions count)."""
    from stackelberg import tasks

    return {"run.task": tasks.names(), "run.algo": sorted(SCHEDULES),
            "schedule.name": sorted(SCHEDULES), "run.policy": policy_players(),
            "run.model_player": model_players(), "model.normalization": ("std", "mad"),
            "model.fit_precision": FIT_PRECISIONS}


def _limit_for(key: str) -> Optional[str]:
    if key in FIELD_LIMITS:
        return FIELD_LIMITS[key]
    name = key.partition(".")[2]
    for ending, limit in _LIMITS_BY_NAME:
        if name == ending or name.endswith("_" + ending):
            return limit
    return None


def within(value: float, limit: str) -> bool:
    """`value` satisfies a limit written as ">= 1", "> 0", "[0, 1]" or "(0, 1]"."""
    text = limit.replace(" ", "")
    if text[0] in "<>":
        op = text[:2] if text[1] == "=" else text[0]
        bound = float(text[len(op):])
        return {">": value > bound, ">=": value >= bound, "<": value < bound,
                "<=": value <= bound}[op]
    low, high = (float(x) for x in text[1:-1].split(","))
    return (value >= low if text[0] == "[" else value > low) and \
        (value <= high if text[-1] == "]" else value < high)


def _check_field(key: str, value: Any, choices: Optional[Sequence[str]]) -> None:
    if value is None:
        return
    limit = _limit_for(key)
    several = isinstance(value, tuple)
    what = f"every entry of {key}" if several else key
    if several and not value and key.endswith("hidden_sizes"):
        raise UserInputError(f"{key} needs at least one layer size, got []")
    for item in value if several else (value,):
        if isinstance(item, str):
            if choices is not None and item not in choices:
                raise UserInputError(f"{key} must be one of {', '.join(choices)}, got {shown(item)}")
            if any(ord(c) < 32 or ord(c) == 127 for c in item):
                raise UserInputError(f"{what} must be text without control characters, "
                                     f"got {shown(item)}")
        elif isinstance(item, (int, float)) and not isinstance(item, bool):
            if isinstance(item, float) and not math.isfinite(item):
                raise UserInputError(f"{what} must be finite, got {item!r}")
            if isinstance(item, int) and not _INT64[0] <= item <= _INT64[1]:
                raise UserInputError(f"{what} must fit in 64 bits, got {shown(item)}")
            if limit is not None and not within(item, limit):
                bound = f"in {limit}" if limit[0] in "[(" else limit
                raise UserInputError(f"{what} must be {bound}, got {item!r}")


def check_fields(config: Config) -> None:
    """Every field of every section against its declared type (a value set in Python is
    checked as a TOML value is), its choices and its limits; one `UserInputError` naming the
    first bad field. Generic over the dataclasses, so new fields are covered without a line."""
    choices = _field_choices()
    for section_field in dataclasses.fields(config):
        section = getattr(config, section_field.name)
        hints = typing.get_type_hints(type(section))
        for f in dataclasses.fields(section):
            key = f"{section_field.name}.{f.name}"
            value = _coerce(getattr(section, f.name), hints[f.name], key)
            _check_field(key, value, choices.get(key))
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


# Keys added with a default other than the behaviour before them: the value a config.toml written
# before the key existed ran with, so such a folder resumes as it ran (a default that is the old
# behaviour, like model.holdout_fraction = 0, needs no entry)
SAVED_WITHOUT_KEY: dict[str, Any] = {"run.flush_denormal": False, "model.fit_precision": "float32"}


def load_saved_config(path: str | Path) -> Config:
    """A config.toml a run wrote, read back and validated: the schedule starts from its
    algorithm's defaults (a file need not list every schedule knob, nor the fields added since
    it was written), then every value in the file applies. A file without [run] and its
    identifying keys is refused, not filled with defaults."""
    data = load_toml(path)
    run = data.get("run")
    missing = [k for k in SAVED_REQUIRED if not isinstance(run, dict) or k not in run]
    if missing or not isinstance(run, dict):
        raise UserInputError(f"{path} is not a run's config: it lacks "
                             f"{', '.join('run.' + k for k in missing)}")
    if not isinstance(run["algo"], str):
        raise UserInputError(f"run.algo must be str, got {shown(run['algo'])} (in {path})")
    config = Config()
    config.schedule = make_schedule(run["algo"])
    for key, value in SAVED_WITHOUT_KEY.items():
        set_value(config, key, value)
    try:
        apply_dict(config, data)
        import_modules(config.run.imports)
        config.validate()
    except UserInputError as err:
        raise UserInputError(f"{err} (in {path})") from None
    return config


# [run] keys left out of a run's record: where the folder is says nothing about the run, and an
# absolute path would tie the record to one machine (a moved or cloned folder resumes as is)
UNRECORDED = ("run.out",)


def config_record(config: Config) -> dict[str, dict[str, Any]]:
    """The resolved config as plain TOML-able data, without `UNRECORDED` keys: what config.toml
    and a checkpoint store."""
    record = config.to_dict()
    for key in UNRECORDED:
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


def fit_precision_for(config: Config) -> str:
    """`model.fit_precision` as the run will use it: "auto" is bfloat16 for the deterministic
    ensemble fitted on a CPU with native bfloat16 (`cpu_has_native_bfloat16`), else float32."""
    from stackelberg.models.config import fit_in_bfloat16

    if config.model.fit_precision != "auto":
        return config.model.fit_precision
    native = fit_in_bfloat16("auto", config.run.device.split(":")[0])
    return "bfloat16" if native and config.model_player == "deterministic" else "float32"


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
    policy = _last(overrides, "run.policy") or file_run.get("policy") or config.run.policy
    task_name = _last(overrides, "run.task") or file_run.get("task") or config.run.task
    from stackelberg import tasks

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
    # record the value the run uses, not "none" (a later default change must not alter a resume)
    config.npg.start_state_buffer_fraction = start_fraction_for(config.npg, task.horizon)
    config.model.fit_precision = fit_precision_for(config)
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


# What a resume may change: knobs read afresh every iteration that leave every array in the
# checkpoint valid (a budget, step sizes, bookkeeping). Changing anything else (a seed, a size,
# the task, a buffer) would make the folder a different run than its checkpoint and data say;
# such a key is refused by name (runs/scripts/fork_run.py branches a run into a new folder).
# A field added later is refused until it is listed here.
RESUMABLE = frozenset({
    "run.samples", "run.threads", "run.flush_denormal", "run.eval_episodes", "run.checkpoint_every",
    "run.snapshot_every", "run.plot_every", "run.render_every", "run.tensorboard",
    "run.stop_metric", "run.stop_value", "run.stop_window", "schedule.npg_steps", "schedule.model_epochs", "schedule.model_min_steps",
    "schedule.model_max_steps",
    "model.lr", "model.weight_decay", "probabilistic_model.lr",
    "npg.delta", "npg.max_kl", "npg.cg_iters", "npg.cg_damping", "npg.entropy_coef",
    "npg.value_lr", "npg.value_weight_decay", "mbpo.lr", "memb.pi_lr", "memb.value_lr",
})


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
    refused = [key for key in changes if key not in RESUMABLE]
    if refused:
        key = refused[0]
        old, new = changes[key]
        more = f" (and {', '.join(refused[1:])})" if len(refused) > 1 else ""
        raise UserInputError(
            f"{where} would change {key} from {old!r} to {new!r}{more}, which a resume cannot: "
            f"the folder would no longer be the run its checkpoint and data come from. A resume "
            f"may change {', '.join(sorted(RESUMABLE))}; to branch the run with other settings "
            f"use runs/scripts/fork_run.py")


def resume_config(saved: Config, overrides: Overrides = (), where: str = "--resume",
                  started: bool = True) -> Config:
    """A saved run's config (`load_saved_config`) with the changes a resume asks for; any change
    outside `RESUMABLE` is refused by name, unless the run never `started` (no checkpoint: its
    first iteration never finished, so the resume starts it again from nothing)."""
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
