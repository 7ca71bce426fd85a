"""Configs of the paper's policy player: the Gaussian policy (`[policy]`) and model-based NPG
(`[npg]`). Plain dataclasses, no torch import."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from stackelberg.core.errors import UserInputError


def _check(checks: list[tuple[bool, str]]) -> None:
    for ok, message in checks:
        if not ok:
            raise UserInputError(message)


@dataclass
class PolicyConfig:
    """Gaussian MLP policy ([P] Sec. 5, [mjrl] GaussianMLP)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    init_log_std: float = -1.0  # [P]; [mjrl] configs use 0.0 (PAL Hopper) and -0.5 (MAL)
    min_log_std: float = -2.5
    max_log_std: float = 1.0

    def validate(self) -> None:
        """The rules a TOML type check cannot state; a `UserInputError` naming the field."""
        _check([(all(h > 0 for h in self.hidden_sizes), "policy.hidden_sizes must be positive"),
                (self.min_log_std <= self.max_log_std,
                 "policy.min_log_std must be <= policy.max_log_std")])


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
    # the advantages carry no signal, which collapsed PAL on inverted-pendulum (runs/notes/foundation.md 1.3).
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

    def validate(self) -> None:
        """The rules a TOML type check cannot state; a `UserInputError` naming the field."""
        _check([
            (self.delta > 0, "npg.delta must be positive"),
            (0 < self.gamma <= 1, "npg.gamma must be in (0, 1]"),
            (0 <= self.gae_lambda <= 1, "npg.gae_lambda must be in [0, 1]"),
            (self.cg_iters >= 1, "npg.cg_iters must be >= 1"),
            (self.cg_damping >= 0, "npg.cg_damping must be >= 0"),
            (0 < self.fvp_sample_fraction <= 1, "npg.fvp_sample_fraction must be in (0, 1]"),
            (self.max_kl is None or self.max_kl > 0, "npg.max_kl must be positive or none"),
            (self.num_trajectories >= 1, "npg.num_trajectories must be >= 1"),
            (self.horizon_cap >= 1, "npg.horizon_cap must be >= 1"),
            (self.start_state_buffer_fraction is None or 0 <= self.start_state_buffer_fraction <= 1,
             "npg.start_state_buffer_fraction must be in [0, 1] or none (the task's default)"),
            (self.value_batch_size >= 1, "npg.value_batch_size must be >= 1"),
        ])


# [P] Sec. 5: starting half of the synthetic rollouts from visited states helped "for the
# long-horizon Gym tasks" (1000 steps); its robot tasks (40-100 steps) start from initial states.
LONG_HORIZON = 500


def start_fraction_for(npg: NPGConfig, horizon: int) -> float:
    """The fraction of synthetic rollouts that start from visited states: the configured one,
    or [P]'s choice for a task whose episodes last `horizon` steps."""
    if npg.start_state_buffer_fraction is not None:
        return npg.start_state_buffer_fraction
    return 0.5 if horizon >= LONG_HORIZON else 0.0
