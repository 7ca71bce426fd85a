"""Settings of the MBPO backend (Janner et al. 2019; official code `jannerm/mbpo`): the
SAC/branched-rollout policy player (its model player's config is `models.config`).

Plain dataclasses with no torch import, so `stackelberg.config` can import them for TOML
sections without an import cycle. Defaults are the official code's; where it differs per task,
the dataclass default is Hopper's and `MBPO_TASK_DEFAULTS` holds every task's values.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Optional


@dataclass
class MBPOConfig:
    """MBPO's policy player: SAC trained on branched model rollouts (algorithms sheet 4.1-4.3).

    `initial_random_steps` and `model_train_freq` are not read by the player: they are the
    values the Game's schedule should use (`initial_samples`, `samples_per_iteration`).
    """

    # --- SAC (softlearning defaults as used by MBPO) ---
    hidden_sizes: tuple[int, ...] = (256, 256)
    lr: float = 3e-4  # actor, critics and temperature
    gamma: float = 0.99
    tau: float = 5e-3  # Polyak rate of the target critics, updated every SAC step
    batch_size: int = 256
    init_log_alpha: float = 0.0
    target_entropy: Optional[float] = -1.0  # None = -act_dim (SAC's default; MBPO sets it per task)
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    # --- MBPO ---
    updates_per_step: int = 20  # G: SAC updates per real environment step
    rollout_schedule: tuple[int, ...] = (20, 150, 1, 15)  # [a, b, x, y]: k goes x -> y over epochs a -> b
    epoch_length: int = 1000  # environment steps per epoch (the k schedule's clock)
    rollouts_per_env_step: int = 400  # MBPO's 1e5 branched rollouts per 250 environment steps
    retain_epochs: int = 1  # the model buffer keeps this many epochs' worth of rollouts
    real_ratio: float = 0.05  # fraction of each SAC batch drawn from real data
    min_pool_size: int = 1000  # no SAC updates for environment steps taken before this many
    # False: rewards of model rollouts come from the task's exact reward_fn (this library's
    # default: every task here has one). True: from the model's reward head (MBPO's default).
    learned_reward: bool = False
    # act uniformly at random until the first improve call (MBPO's initial exploration)
    uniform_initial_actions: bool = True
    rollout_chunk: int = 50_000  # start states rolled out at once (bounds memory, not results)
    save_model_buffer: bool = True  # False: checkpoints omit the synthetic data (~0.7 GB on Hopper at k=15)
    # --- for the Game's schedule, not read by the player ---
    initial_random_steps: int = 5000
    model_train_freq: int = 250

    def validate(self) -> None:
        from stackelberg.core.errors import UserInputError

        a, b, x, y = self.rollout_schedule if len(self.rollout_schedule) == 4 else (0, 0, 0, 0)
        checks = [
            (len(self.rollout_schedule) == 4, "rollout_schedule must be [a, b, x, y]"),
            (b > a, "rollout_schedule needs end epoch b > start epoch a"),
            (x >= 1 and y >= 1, "rollout_schedule lengths x, y must be >= 1"),
            (all(h > 0 for h in self.hidden_sizes), "hidden_sizes must be positive"),
            (self.lr > 0, "lr must be positive"),
            (0 < self.gamma <= 1, "gamma must be in (0, 1]"),
            (0 < self.tau <= 1, "tau must be in (0, 1]"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.log_std_min < self.log_std_max, "log_std_min must be < log_std_max"),
            (self.updates_per_step >= 0, "updates_per_step must be >= 0"),
            (self.epoch_length >= 1, "epoch_length must be >= 1"),
            (self.rollouts_per_env_step >= 0, "rollouts_per_env_step must be >= 0"),
            (self.retain_epochs >= 1, "retain_epochs must be >= 1"),
            (0 <= self.real_ratio <= 1, "real_ratio must be in [0, 1]"),
            (self.min_pool_size >= 0, "min_pool_size must be >= 0"),
            (self.rollout_chunk >= 1, "rollout_chunk must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(f"mbpo: {message}")


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
