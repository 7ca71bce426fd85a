"""Settings of the MBPO backend (Janner et al. 2019; official code `jannerm/mbpo`): the
probabilistic model player and the SAC/branched-rollout policy player.

Plain dataclasses with no torch import, so `stackelberg.config` can import them for TOML
sections without an import cycle. Defaults are the official code's; where it differs per task,
the dataclass default is Hopper's and `MBPO_TASK_DEFAULTS` holds every task's values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Optional


@dataclass
class ProbabilisticModelConfig:
    """MBPO's probabilistic ensemble (algorithms sheet 4.4)."""

    ensemble_size: int = 7
    num_elites: int = 5
    hidden_sizes: tuple[int, ...] = (200, 200, 200, 200)
    # added to the loss as wd * 0.5 * ||W||^2 per layer, input -> output (one per weight matrix)
    weight_decays: tuple[float, ...] = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)
    lr: float = 1e-3
    batch_size: int = 256
    holdout_ratio: float = 0.2
    max_holdout: int = 5000
    # a member improves when (best - current) / best > this; its weights are then snapshotted
    improvement_threshold: float = 0.01
    # stop when no member improved for more than this many consecutive epochs
    patience: int = 5
    init_max_logvar: float = 0.5
    init_min_logvar: float = -10.0
    logvar_bound_coef: float = 0.01  # loss += coef * (sum max_logvar - sum min_logvar)
    bootstrap: bool = True  # each member trains on its own with-replacement resample

    def validate(self) -> None:
        from stackelberg.errors import UserInputError

        checks = [
            (self.ensemble_size >= 1, "ensemble_size must be >= 1"),
            (1 <= self.num_elites <= self.ensemble_size, "num_elites must be in [1, ensemble_size]"),
            (len(self.weight_decays) == len(self.hidden_sizes) + 1,
             "weight_decays needs one value per layer (len(hidden_sizes) + 1)"),
            (all(h > 0 for h in self.hidden_sizes), "hidden_sizes must be positive"),
            (self.lr > 0, "lr must be positive"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (0 <= self.holdout_ratio < 1, "holdout_ratio must be in [0, 1)"),
            (self.patience >= 0, "patience must be >= 0"),
            (self.init_min_logvar < self.init_max_logvar, "init_min_logvar must be < init_max_logvar"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(f"probabilistic model: {message}")


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
        from stackelberg.errors import UserInputError

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


def mbpo_config_for(task_name: str, **overrides: Any) -> MBPOConfig:
    """MBPOConfig with the task's official settings (if it has any), then `overrides`."""
    return replace(MBPOConfig(), **{**MBPO_TASK_DEFAULTS.get(task_name, {}), **overrides})
