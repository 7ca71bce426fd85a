"""Every knob of a run as a dataclass field with the paper's default, loadable from TOML.

Sections: `[run]`, `[schedule]`, `[model]`, `[policy]`, `[npg]`, and for the MBPO backend
`[mbpo]` and `[probabilistic_model]`. Unknown keys and values of the
wrong type are rejected with a message naming the valid choices.
"""
from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from stackelberg.errors import UserInputError
from stackelberg.mbpo_config import MBPOConfig, ProbabilisticModelConfig
from stackelberg.schedules import PAL, SCHEDULES, Schedule, make_schedule


FIT_PRECISIONS = ("float32", "bfloat16")


@dataclass
class ModelConfig:
    """Deterministic dynamics ensemble ([P] Tables 2-3)."""

    ensemble_size: int = 4
    hidden_sizes: tuple[int, ...] = (512, 512)
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 200
    # [P] writes sigma (a spread from the data); [mjrl] uses the mean absolute deviation.
    normalization: str = "std"  # "std" | "mad"
    clamp_state: float = 100.0  # predicted states are clamped to +-this ([mjrl] large_value)
    # Learn the wrapped change of the task's wrapped-angle coordinates (Task.angle_dims) and wrap
    # the prediction; false = [mjrl]'s plain s' - s on every coordinate. Applies to both model
    # players (the MBPO ensemble too).
    wrap_angles: bool = True
    # Train on every real transition and its mirror image under the task's symmetry
    # (Task.symmetry; DClaw-Turn has one). Not in [P]: it widens the model's data to the turning
    # direction the policy has not tried yet. Doubles the data per epoch, so halve model_epochs
    # to keep the fit cost.
    augment_symmetry: bool = False
    # Precision of the fit's forward and backward passes. "bfloat16" runs them under CPU/CUDA
    # autocast (weights, Adam and the loss stay float32): 1.8x faster training steps on a CPU
    # with AVX512-BF16 and the same held-out loss (RESULTS 7.21). Prediction is always float32.
    fit_precision: str = "float32"  # "float32" | "bfloat16"
    # Early stopping on held-out real trajectories (not in [P], whose fit runs the schedule's
    # epochs): this fraction of the buffer's trajectories is held out of the fit; after every
    # epoch each member's held-out loss is checked, training stops once no member improved by
    # more than `holdout_threshold` (relative) for more than `holdout_patience` epochs, and
    # each member goes back to its best epoch. The schedule's epochs become an upper bound.
    # 0 = [P]'s fixed epochs.
    holdout_fraction: float = 0.0
    holdout_patience: int = 5
    holdout_threshold: float = 0.01


@dataclass
class PolicyConfig:
    """Gaussian MLP policy ([P] Sec. 5, [mjrl] GaussianMLP)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    init_log_std: float = -1.0  # [P]; [mjrl] configs use 0.0 (PAL Hopper) and -0.5 (MAL)
    min_log_std: float = -2.5
    max_log_std: float = 1.0


@dataclass
class NPGConfig:
    """Model-based NPG with GAE ([P] Subroutine 1, Table 1)."""

    delta: float = 0.05  # normalised step size; the resulting KL is about delta / 2 ([mjrl])
    gamma: float = 0.995
    gae_lambda: float = 0.97
    cg_iters: int = 25  # [mjrl] Hopper configs (class default 10)
    cg_damping: float = 1e-3  # [mjrl] Hopper configs (class default 1e-4)
    fvp_sample_fraction: float = 1.0
    # Halve the step until the measured KL(pi_old||pi_new) <= max_kl. Not in [P] or [mjrl]
    # (set "none" to reproduce them); without it the KL of a normalised step reaches 0.5 when
    # the advantages carry no signal, which collapsed PAL on inverted-pendulum (RESULTS.md).
    max_kl: Optional[float] = 0.1
    num_trajectories: int = 200  # N_tau, split evenly over the ensemble members
    horizon_cap: int = 500  # rollout horizon = min(task horizon, horizon_cap)
    # fraction of start states drawn from real visited states (rest: initial-state buffer).
    # "none" = [P]'s choice for the task (`start_fraction_for`): 0.5 on the long-horizon Gym
    # tasks, where [P] found it better, 0.0 on the short-horizon robot tasks; [mjrl]: 0.0
    start_state_buffer_fraction: Optional[float] = None
    min_rollout_length: int = 1  # [mjrl] drops synthetic paths shorter than 5 steps
    action_clamp: float = 100.0  # actions in model rollouts are clamped to +-this, not to bounds
    entropy_coef: float = 0.0  # [P] mentions entropy regularisation; [mjrl] v2 has none
    value_hidden_sizes: tuple[int, ...] = (128, 128)
    value_lr: float = 1e-3
    value_weight_decay: float = 1e-3
    value_batch_size: int = 128
    value_epochs: int = 1


# [P] Sec. 5: starting half of the synthetic rollouts from visited states helped "for the
# long-horizon Gym tasks" (1000 steps); its robot tasks (40-100 steps) start from initial states.
LONG_HORIZON = 500


def start_fraction_for(npg: NPGConfig, horizon: int) -> float:
    """The fraction of synthetic rollouts that start from visited states: the configured one,
    or [P]'s choice for a task whose episodes last `horizon` steps."""
    if npg.start_state_buffer_fraction is not None:
        return npg.start_state_buffer_fraction
    return 0.5 if horizon >= LONG_HORIZON else 0.0


@dataclass
class RunConfig:
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
    checkpoint_every: int = 1
    snapshot_every: int = 10  # keep snapshots/iter_XXXX.pt (policy + model) for diagnostics; 0 = off
    plot_every: int = 5
    render_every: int = 0  # a video of one episode every K iterations into <out>/videos; 0 = off
    tensorboard: bool = False  # also write every metric to <out>/tensorboard (needs tensorboard)
    # world changes during the run, e.g. "dynamics@10000:target=forearm,scale=1.3" or "goals@8000"
    # (syntax and defaults: stackelberg/perturbations.py); in config.toml with sizes filled in
    perturb: tuple[str, ...] = ()


@dataclass
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    schedule: Schedule = field(default_factory=PAL)
    model: ModelConfig = field(default_factory=ModelConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    npg: NPGConfig = field(default_factory=NPGConfig)
    mbpo: MBPOConfig = field(default_factory=MBPOConfig)
    probabilistic_model: ProbabilisticModelConfig = field(default_factory=ProbabilisticModelConfig)

    @property
    def model_player(self) -> str:
        """The model player that `run.model_player = "auto"` resolves to."""
        if self.run.model_player != "auto":
            return self.run.model_player
        return {"mbpo": "probabilistic", "sac": "none"}.get(self.run.policy, "deterministic")

    def to_dict(self) -> dict[str, dict[str, Any]]:
        out = {}
        for f in dataclasses.fields(self):
            section = dataclasses.asdict(getattr(self, f.name))
            # TOML has no null: None is written as "none", which every Optional field reads back
            out[f.name] = {k: (list(v) if isinstance(v, tuple) else "none" if v is None else v)
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
            (self.run.policy in POLICY_PLAYERS,
             f"run.policy must be one of {', '.join(POLICY_PLAYERS)}, got {self.run.policy!r}"),
            (self.run.model_player in MODEL_PLAYERS,
             f"run.model_player must be one of {', '.join(MODEL_PLAYERS)}, got {self.run.model_player!r}"),
            (re.fullmatch(r"cpu|cuda(:\d+)?", self.run.device) is not None,
             f"run.device must be cpu, cuda or cuda:N, got {shown(self.run.device)}"),
            (self.model.ensemble_size >= 1, "model.ensemble_size must be >= 1"),
            (self.model.batch_size >= 1, "model.batch_size must be >= 1"),
            (self.model.lr > 0, "model.lr must be positive"),
            (self.model.normalization in ("std", "mad"), "model.normalization must be 'std' or 'mad'"),
            (self.model.fit_precision in FIT_PRECISIONS,
             f"model.fit_precision must be one of {', '.join(FIT_PRECISIONS)}, got {self.model.fit_precision!r}"),
            (all(h > 0 for h in self.model.hidden_sizes), "model.hidden_sizes must be positive"),
            (0 <= self.model.holdout_fraction < 1, "model.holdout_fraction must be in [0, 1)"),
            (self.model.holdout_patience >= 0, "model.holdout_patience must be >= 0"),
            (0 <= self.model.holdout_threshold < 1, "model.holdout_threshold must be in [0, 1)"),
            (all(h > 0 for h in self.policy.hidden_sizes), "policy.hidden_sizes must be positive"),
            (self.policy.min_log_std <= self.policy.max_log_std,
             "policy.min_log_std must be <= policy.max_log_std"),
            (self.npg.delta > 0, "npg.delta must be positive"),
            (0 < self.npg.gamma <= 1, "npg.gamma must be in (0, 1]"),
            (0 <= self.npg.gae_lambda <= 1, "npg.gae_lambda must be in [0, 1]"),
            (self.npg.cg_iters >= 1, "npg.cg_iters must be >= 1"),
            (self.npg.cg_damping >= 0, "npg.cg_damping must be >= 0"),
            (0 < self.npg.fvp_sample_fraction <= 1, "npg.fvp_sample_fraction must be in (0, 1]"),
            (self.npg.max_kl is None or self.npg.max_kl > 0, "npg.max_kl must be positive or none"),
            (self.npg.num_trajectories >= 1, "npg.num_trajectories must be >= 1"),
            (self.npg.horizon_cap >= 1, "npg.horizon_cap must be >= 1"),
            (self.npg.start_state_buffer_fraction is None or
             0 <= self.npg.start_state_buffer_fraction <= 1,
             "npg.start_state_buffer_fraction must be in [0, 1] or none (the task's default)"),
            (self.npg.value_batch_size >= 1, "npg.value_batch_size must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)
        self.schedule.validate()
        self.mbpo.validate()
        self.probabilistic_model.validate()


POLICY_PLAYERS = ("npg", "mbpo", "sac")
MODEL_PLAYERS = ("auto", "deterministic", "probabilistic", "none")


SECTIONS = {f.name: f.type for f in dataclasses.fields(Config)}


def _section_class(name: str) -> type:
    return {"run": RunConfig, "schedule": Schedule, "model": ModelConfig,
            "policy": PolicyConfig, "npg": NPGConfig, "mbpo": MBPOConfig,
            "probabilistic_model": ProbabilisticModelConfig}[name]


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
        if isinstance(value, str) and item_type is str:  # texts may hold commas: ";" separates
            value = [v.strip() for v in value.split(";") if v.strip()]
        elif isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserInputError(f"{where} must be a list, got {shown(value)}")
        return tuple(_coerce(v, item_type, where) for v in value)
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
    "run.plot_every": ">= 0",
    "schedule.initial_samples": ">= 1", "schedule.samples_per_iteration": ">= 1",
    "schedule.samples_horizon_multiple": ">= 1", "schedule.samples_cap": ">= 1",
    "schedule.buffer_capacity": ">= 1", "schedule.model_epochs": ">= 1",
    "schedule.model_min_steps": ">= 0", "schedule.model_max_steps": ">= 1",
    "schedule.npg_steps": ">= 1",
    "model.ensemble_size": ">= 1", "model.weight_decay": ">= 0", "model.clamp_state": "> 0",
    "npg.delta": "> 0", "npg.gae_lambda": "[0, 1]", "npg.cg_iters": ">= 1",
    "npg.cg_damping": ">= 0", "npg.fvp_sample_fraction": "(0, 1]", "npg.max_kl": "> 0",
    "npg.num_trajectories": ">= 1", "npg.horizon_cap": ">= 1", "npg.min_rollout_length": ">= 1",
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
    import tasks

    return {"run.task": tasks.names(), "run.algo": sorted(SCHEDULES),
            "schedule.name": sorted(SCHEDULES), "run.policy": POLICY_PLAYERS,
            "run.model_player": MODEL_PLAYERS, "model.normalization": ("std", "mad"),
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


def load_saved_config(path: str | Path) -> Config:
    """A config.toml a run wrote, read back and validated: the schedule starts from its
    algorithm's defaults (a file need not list every schedule knob, nor the fields added since
    it was written), then every value in the file applies. A file without [run] and its
    identifying keys is refused, not filled with defaults."""
    data = load_toml(path)
    run = data.get("run")
    missing = [k for k in SAVED_REQUIRED if not isinstance(run, dict) or k not in run]
    if missing:
        raise UserInputError(f"{path} is not a run's config: it lacks "
                             f"{', '.join('run.' + k for k in missing)}")
    if not isinstance(run["algo"], str):
        raise UserInputError(f"run.algo must be str, got {shown(run['algo'])} (in {path})")
    config = Config()
    config.schedule = make_schedule(run["algo"])
    apply_dict(config, data)
    try:
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
