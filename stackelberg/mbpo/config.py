"""Settings of the MBPO backend (Janner et al. 2019; official code `jannerm/mbpo`): the
SAC/branched-rollout policy player (its model player's config is `models.config`), and
model-free SAC's own settings.

Plain dataclasses with no torch import; each knob's limits and resume rule are declared on its
field (`core.knobs`). Defaults are the official code's; where it differs per task,
the dataclass default is Hopper's and `MBPO_TASK_DEFAULTS` holds every task's values.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Optional

from stackelberg.core.knobs import knob, redefault


@dataclass
class SACConfig:
    """Soft actor-critic (Haarnoja et al. 2018, softlearning defaults as MBPO uses them): the
    settings of model-free SAC (`[sac]`), and the SAC part of MBPO's player (`MBPOConfig`)."""

    hidden_sizes: tuple[int, ...] = knob((256, 256), "actor and critic widths", limits=">= 1")
    lr: float = knob(3e-4, "step size of actor, critics and temperature", limits="> 0",
                     resumable=True)
    gamma: float = knob(0.99, "discount", limits="(0, 1]")
    tau: float = knob(5e-3, "Polyak rate of the target critics, updated every SAC step",
                      limits="(0, 1]")
    batch_size: int = knob(256, "transitions per SAC step", limits=">= 1")
    init_log_alpha: float = knob(0.0, "initial log temperature")
    target_entropy: Optional[float] = knob(None, "none = -act_dim (SAC's default)")
    log_std_min: float = knob(-20.0, "lower bound of the actor's log standard deviation")
    log_std_max: float = knob(2.0, "upper bound of the actor's log standard deviation")
    updates_per_step: int = knob(1, "G: SAC updates per real environment step", limits=">= 0")
    min_pool_size: int = knob(1000, "no SAC updates for environment steps taken before this many",
                              limits=">= 0")
    # act uniformly at random until the first improve call (SAC's initial exploration)
    uniform_initial_actions: bool = knob(True, "uniform random actions before the first update")

    def rules(self) -> list[tuple[bool, str]]:
        """The rules that tie fields together (each field's own limits are on the field)."""
        return [(self.log_std_min < self.log_std_max, "log_std_min must be < log_std_max")]


@dataclass
class MBPOConfig(SACConfig):
    """MBPO's policy player: SAC trained on branched model rollouts (algorithms sheet 4.1-4.3).

    `initial_random_steps` and `model_train_freq` are not read by the player: they are the
    values the Game's schedule should use (`initial_samples`, `samples_per_iteration`).
    """

    target_entropy: Optional[float] = redefault(SACConfig, "target_entropy", -1.0)
    updates_per_step: int = redefault(SACConfig, "updates_per_step", 20)
    rollout_schedule: tuple[int, ...] = knob(
        (20, 150, 1, 15), "[a, b, x, y]: rollout length goes x -> y over epochs a -> b", limits=">= 0")
    epoch_length: int = knob(1000, "environment steps per epoch (the k schedule's clock)",
                             limits=">= 1")
    rollouts_per_env_step: int = knob(400, "MBPO's 1e5 branched rollouts per 250 environment steps",
                                      limits=">= 0")
    retain_epochs: int = knob(1, "the model buffer keeps this many epochs' rollouts", limits=">= 1")
    real_ratio: float = knob(0.05, "share of each SAC batch drawn from real data", limits="[0, 1]")
    # False: rewards of model rollouts come from the task's exact reward_fn (this library's
    # default: every task here has one). True: from the model's reward head (MBPO's default).
    learned_reward: bool = knob(False, "rollout rewards from the model's reward head")
    rollout_chunk: int = knob(50_000, "start states rolled out at once (bounds memory, not results)",
                              limits=">= 1")
    save_model_buffer: bool = knob(True, "false: checkpoints omit the synthetic data")
    initial_random_steps: int = knob(5000, "for the schedule: uniform exploration steps",
                                     limits=">= 1")
    model_train_freq: int = knob(250, "for the schedule: environment steps per model fit",
                                 limits=">= 1")

    def rules(self) -> list[tuple[bool, str]]:
        a, b, x, y = self.rollout_schedule if len(self.rollout_schedule) == 4 else (0, 0, 0, 0)
        return super().rules() + [
            (len(self.rollout_schedule) == 4, "rollout_schedule must be [a, b, x, y]"),
            (b > a, "rollout_schedule needs end epoch b > start epoch a"),
            (x >= 1 and y >= 1, "rollout_schedule lengths x, y must be >= 1"),
        ]


# Per-task settings of the official configs (algorithms sheet 4.2). Hopper's k schedule is the
# code's [20, 150, 1, 15]; the paper says epochs 20 -> 100.
MBPO_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "inverted-pendulum": dict(updates_per_step=10, rollout_schedule=(1, 15, 1, 1),
                              target_entropy=-0.05, epoch_length=250, initial_random_steps=500),
    "hopper": dict(updates_per_step=20, rollout_schedule=(20, 150, 1, 15), target_entropy=-1.0,
                   epoch_length=1000, initial_random_steps=5000),
    "ant": dict(updates_per_step=20, rollout_schedule=(20, 100, 1, 25), target_entropy=-4.0,
                epoch_length=1000, initial_random_steps=5000),
}
"""MBPO's official per-task settings (`[mbpo]` keys by task name), applied over `MBPOConfig`'s
defaults when the MBPO backend runs on that task."""


# schedule knobs for a model fit to holdout early stopping on all data: the epochs are an upper
# bound the probabilistic model does not reach
EARLY_STOPPED_FIT: dict[str, int] = {"model_epochs": 10_000, "model_min_steps": 0,
                                     "model_max_steps": 10**9}


def mbpo_config_for(task_name: str, **overrides: Any) -> MBPOConfig:
    """MBPOConfig with the task's official settings (if it has any), then `overrides`."""
    return replace(MBPOConfig(), **{**MBPO_TASK_DEFAULTS.get(task_name, {}), **overrides})


def mbpo_run_defaults(task_name: str) -> dict[str, dict[str, Any]]:
    """The MBPO backend's config defaults for a task: the official per-task `[mbpo]` settings,
    and schedule knobs that make the game MBPO's loop (explore, then fit the model to early
    stopping on all data every `model_train_freq` steps). The algorithm keeps its turn order;
    the run's TOML and overrides still override every value."""
    mbpo = mbpo_config_for(task_name)
    return {"mbpo": _section(mbpo),
            "schedule": {"initial_samples": mbpo.initial_random_steps,
                         "samples_per_iteration": mbpo.model_train_freq, "buffer_capacity": None,
                         **EARLY_STOPPED_FIT}}


def _section(config: Any) -> dict[str, Any]:
    """A dataclass as a config layer's section (shallow: its fields as they are)."""
    return {f.name: getattr(config, f.name) for f in fields(config)}
