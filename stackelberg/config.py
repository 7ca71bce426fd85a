"""Every knob of a run as a dataclass field with the paper's default, loadable from TOML.

Sections: `[run]`, `[schedule]`, `[model]`, `[policy]`, `[npg]`, and for the MBPO backend
`[mbpo]` and `[probabilistic_model]`. Unknown keys and values of the
wrong type are rejected with a message naming the valid choices.
"""
from __future__ import annotations

import dataclasses
import math
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from stackelberg.errors import UserInputError
from stackelberg.mbpo_config import MBPOConfig, ProbabilisticModelConfig
from stackelberg.schedules import PAL, Schedule, make_schedule


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
        """Reject impossible values before anything runs."""
        checks = [
            (self.run.samples > 0, "run.samples must be positive"),
            (self.run.eval_episodes >= 0, "run.eval_episodes must be >= 0"),
            (self.run.policy in POLICY_PLAYERS,
             f"run.policy must be one of {', '.join(POLICY_PLAYERS)}, got {self.run.policy!r}"),
            (self.run.model_player in MODEL_PLAYERS,
             f"run.model_player must be one of {', '.join(MODEL_PLAYERS)}, got {self.run.model_player!r}"),
            (self.run.device in ("cpu", "cuda") or self.run.device.startswith("cuda:"),
             "run.device must be cpu or cuda"),
            (self.model.ensemble_size >= 1, "model.ensemble_size must be >= 1"),
            (self.model.batch_size >= 1, "model.batch_size must be >= 1"),
            (self.model.lr > 0, "model.lr must be positive"),
            (self.model.normalization in ("std", "mad"), "model.normalization must be 'std' or 'mad'"),
            (self.model.fit_precision in FIT_PRECISIONS,
             f"model.fit_precision must be one of {', '.join(FIT_PRECISIONS)}, got {self.model.fit_precision!r}"),
            (all(h > 0 for h in self.model.hidden_sizes), "model.hidden_sizes must be positive"),
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


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Convert a TOML/CLI value to the field's declared type, or explain why it cannot be."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union:  # Optional[X]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "inf")):
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), where)
    if origin is tuple:
        if isinstance(value, str) and args[0] is str:  # texts may hold commas: ";" separates
            value = [v.strip() for v in value.split(";") if v.strip()]
        elif isinstance(value, str):
            value = [v for v in value.replace("(", "").replace(")", "").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise UserInputError(f"{where} must be a list, got {value!r}")
        return tuple(_coerce(v, args[0], where) for v in value)
    try:
        if annotation is bool:
            if isinstance(value, str):
                if value.lower() in ("true", "1", "yes"):
                    return True
                if value.lower() in ("false", "0", "no"):
                    return False
                raise ValueError
            return bool(value)
        if annotation is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            if isinstance(value, str):
                number = float(value)
                if not number.is_integer():
                    raise ValueError
                return int(number)
            return int(value)
        if annotation is float:
            number = float(value)
            if math.isnan(number):
                raise ValueError
            return number
        if annotation is str:
            return str(value)
    except (TypeError, ValueError):
        name = getattr(annotation, "__name__", str(annotation))
        raise UserInputError(f"{where} must be {name}, got {value!r}") from None
    return value


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


def load_toml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"config file {str(path)!r} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as err:
        raise UserInputError(f"config file {str(path)!r} is not valid TOML: {err}") from None


def load_saved_config(path: str | Path) -> Config:
    """A config.toml a run wrote, read back: the schedule starts from its algorithm's defaults
    (a file need not list every schedule knob), then every value in the file applies."""
    data = load_toml(path)
    config = Config()
    config.schedule = make_schedule(str(data.get("run", {}).get("algo", "pal")))
    apply_dict(config, data)
    return config


def config_to_toml(config: Config) -> str:
    """Write the resolved config as TOML (read back with `load_toml` + `apply_dict`)."""
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, bool):
                lines.append(f"{key} = {str(value).lower()}")
            elif isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
            else:
                lines.append(f"{key} = {value!r}")
        lines.append("")
    return "\n".join(lines)
