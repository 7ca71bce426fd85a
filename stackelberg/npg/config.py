"""Settings of the paper's policy player (`[npg]`): the Gaussian policy and model-based NPG.
Plain dataclasses, no torch import; each knob's limits and resume rule are declared on its field
(`core.knobs`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from stackelberg.core.knobs import knob


@dataclass
class PolicyConfig:
    """Gaussian MLP policy ([P] Sec. 5, [mjrl] GaussianMLP): what `NPGPolicyPlayer` builds its
    policy network from (the run sets it from `[npg]`, `NPGConfig.policy_config`)."""

    hidden_sizes: tuple[int, ...] = (64, 64)
    init_log_std: float = -1.0
    min_log_std: float = -2.5
    max_log_std: float = 1.0


@dataclass
class NPGConfig:
    """Model-based NPG with GAE ([P] Subroutine 1, Table 1) and its Gaussian policy."""

    delta: float = knob(0.05, "normalised step size; the resulting KL is about delta / 2 ([mjrl])",
                        limits="> 0", resumable=True)
    gamma: float = knob(0.995, "discount", limits="(0, 1]")
    gae_lambda: float = knob(0.97, "GAE lambda", limits="[0, 1]")
    cg_iters: int = knob(25, "conjugate-gradient iterations ([mjrl] Hopper configs)", limits=">= 1",
                         resumable=True)
    cg_damping: float = knob(1e-3, "Fisher damping ([mjrl] Hopper configs)", limits=">= 0",
                             resumable=True)
    fvp_sample_fraction: float = knob(1.0, "share of samples in Fisher products", limits="(0, 1]")
    # Halve the step until the measured KL(pi_old||pi_new) <= max_kl. Not in [P] or [mjrl]
    # (set "none" to reproduce them); without it the KL of a normalised step reaches 0.5 when
    # the advantages carry no signal, which collapsed PAL on inverted-pendulum.
    max_kl: Optional[float] = knob(0.1, "largest KL of one step (none = no limit)", limits="> 0",
                                   resumable=True)
    num_trajectories: int = knob(200, "N_tau, split evenly over the ensemble members",
                                 limits="[1, 1000000]")
    horizon_cap: int = knob(500, "rollout horizon = min(task horizon, horizon_cap)", limits=">= 1")
    # fraction of start states drawn from real visited states (rest: initial-state buffer).
    # "none" = [P]'s choice for the task (`start_fraction_for`): 0.5 on the long-horizon Gym
    # tasks, where [P] found it better, 0.0 on the short-horizon robot tasks; [mjrl]: 0.0
    start_state_buffer_fraction: Optional[float] = knob(
        None, "share of rollouts starting from visited states (none = the task's)", limits="[0, 1]")
    min_rollout_length: int = knob(1, "[mjrl] drops synthetic paths shorter than 5 steps",
                                   limits=">= 1")
    action_clamp: float = knob(100.0, "rollout actions are clamped to +-this, not to bounds",
                               limits="> 0")
    entropy_coef: float = knob(0.0, "entropy bonus ([mjrl] v2 has none)", limits=">= 0",
                               resumable=True)
    value_hidden_sizes: tuple[int, ...] = knob((128, 128), "value baseline widths", limits=">= 1")
    value_lr: float = knob(1e-3, "value baseline step size", limits="> 0", resumable=True)
    value_weight_decay: float = knob(1e-3, "value baseline weight decay", limits=">= 0",
                                     resumable=True)
    value_batch_size: int = knob(128, "value baseline batch", limits=">= 1")
    value_epochs: int = knob(1, "value baseline epochs per step", limits=">= 1")
    # the Gaussian policy; [mjrl] configs use init_log_std 0.0 (PAL Hopper) and -0.5 (MAL)
    policy_hidden_sizes: tuple[int, ...] = knob((64, 64), "policy network widths", limits=">= 1")
    init_log_std: float = knob(-1.0, "initial log standard deviation ([P])")
    min_log_std: float = knob(-2.5, "lower bound of the log standard deviation")
    max_log_std: float = knob(1.0, "upper bound of the log standard deviation")

    def rules(self) -> list[tuple[bool, str]]:
        """The rules that tie fields together (each field's own limits are on the field)."""
        return [(self.min_log_std <= self.max_log_std, "min_log_std must be <= max_log_std")]

    def policy_config(self) -> PolicyConfig:
        return PolicyConfig(self.policy_hidden_sizes, self.init_log_std, self.min_log_std,
                            self.max_log_std)


#: keys of the `[policy]` section the policy network had before it moved into `[npg]`
POLICY_SECTION_KEYS = {"policy.hidden_sizes": "policy_hidden_sizes",
                       "policy.init_log_std": "init_log_std",
                       "policy.min_log_std": "min_log_std", "policy.max_log_std": "max_log_std"}

# [P] Sec. 5: starting half of the synthetic rollouts from visited states helped "for the
# long-horizon Gym tasks" (1000 steps); its robot tasks (40-100 steps) start from initial states.
LONG_HORIZON = 500


def start_fraction_for(npg: NPGConfig, horizon: int) -> float:
    """The fraction of synthetic rollouts that start from visited states: the configured one,
    or [P]'s choice for a task whose episodes last `horizon` steps."""
    if npg.start_state_buffer_fraction is not None:
        return npg.start_state_buffer_fraction
    return 0.5 if horizon >= LONG_HORIZON else 0.0


def settle_start_fraction(settings: NPGConfig, task: object, device_type: str, in_use: bool) -> None:
    """Record the fraction the run uses, not "none" (a later default change must not alter a
    resume)."""
    settings.start_state_buffer_fraction = start_fraction_for(settings, getattr(task, "horizon"))
