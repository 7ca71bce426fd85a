"""Settings of M3PO's policy player (`[m3po]`): MBPO's, at the appendix's values (Table 2),
with the real-data schedule of M3PO-h (A.8, Table 3).

The paper's values are the defaults; the runs here scale G and M down to fit 2 cores, in their
recipes (`runs/m3po/*.toml`), never here.

Reconstructed (the appendix lacks the main text, Algorithm 2 and the SAC settings; each is a
knob):
- every SAC batch is model data (`real_ratio = 0`): A.8 replaces "D_model in line 11" with the
  mixture D_hyb, so M3PO's own line 11 reads model data only;
- Table 2's merged cells: M = 1e3 on both HalfCheetah worlds and Ant-crippled-leg, 5e2 on
  Ant-fwd-bwd, Walker2D and Humanoid; G = 40 on both HalfCheetah worlds, 20 on the others;
- SAC's settings are MBPO's (256 x 256, lr 3e-4, batch 256, MBPO's initial 5000 random steps
  and a model fit every 250 steps) with SAC's target entropy -|A| (Ant: MBPO's -4);
- M3PO-h's beta is the clipped-linear reading of Table 3's garbled formula:
  real_ratio(e) = 1 - beta(e) = clip((e - a) / (b - a), 0, 1).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, replace
from typing import Any, Optional

from stackelberg.core.knobs import knob, redefault
from stackelberg.mbpo.config import EARLY_STOPPED_FIT, MBPOConfig
from stackelberg.tasks.history import world_name


@dataclass
class M3POConfig(MBPOConfig):
    """MBPO's player at M3PO's settings: k = 1 branched rollouts from real histories, the
    reward from the model, SAC on model data (Table 2: N = 200 epochs of E = 1000 steps)."""

    target_entropy: Optional[float] = redefault(MBPOConfig, "target_entropy", None)
    updates_per_step: int = redefault(MBPOConfig, "updates_per_step", 20)
    rollout_schedule: tuple[int, ...] = redefault(MBPOConfig, "rollout_schedule", (0, 1, 1, 1))
    rollouts_per_env_step: int = redefault(MBPOConfig, "rollouts_per_env_step", 1000)
    real_ratio: float = redefault(MBPOConfig, "real_ratio", 0.0)
    learned_reward: bool = redefault(MBPOConfig, "learned_reward", True)
    # the model buffer holds M x 1000 transitions of the history-wide observation (2.2 GB on
    # HalfCheetah at M = 1e3): checkpoints leave it out and a resume refills it (not bit-exact)
    save_model_buffer: bool = redefault(MBPOConfig, "save_model_buffer", False)
    # M3PO-h: epochs (a, b) over which each SAC batch's real share goes from 0 to 1 (Table 3:
    # pier 80 -> 130, walker 50 -> 100, humanoid 150 -> 250); () = the fixed real_ratio
    real_ratio_schedule: tuple[int, ...] = knob(
        (), "M3PO-h: [a, b] epochs over which the real share goes 0 -> 1; [] = fixed real_ratio",
        limits=">= 0")

    def rules(self) -> list[tuple[bool, str]]:
        schedule = self.real_ratio_schedule
        return super().rules() + [
            (len(schedule) in (0, 2), "real_ratio_schedule must be [a, b] (epochs) or []"),
            (len(schedule) != 2 or schedule[1] > schedule[0],
             "real_ratio_schedule needs end epoch b > start epoch a"),
        ]

    def real_ratio_at(self, epoch: int) -> float:
        """The real share of a SAC batch at `epoch`: M3PO-h's 1 - beta(epoch), else real_ratio."""
        if not self.real_ratio_schedule:
            return self.real_ratio
        a, b = self.real_ratio_schedule
        return min(max((epoch - a) / (b - a), 0.0), 1.0)


# Table 2 per world (M, G), read as in the module docstring
M3PO_TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "halfcheetah-fwd-bwd": dict(rollouts_per_env_step=1000, updates_per_step=40),
    "halfcheetah-pier": dict(rollouts_per_env_step=1000, updates_per_step=40),
    "ant-fwd-bwd": dict(rollouts_per_env_step=500, updates_per_step=20, target_entropy=-4.0),
    "ant-crippled-leg": dict(rollouts_per_env_step=1000, updates_per_step=20, target_entropy=-4.0),
    "walker2d-randomparams": dict(rollouts_per_env_step=500, updates_per_step=20),
    "humanoid-direc": dict(rollouts_per_env_step=500, updates_per_step=20),
}

#: Table 3's M3PO-h schedules (epochs a -> b), for `--set m3po.real_ratio_schedule=[a, b]`
M3PO_H_SCHEDULES: dict[str, tuple[int, int]] = {
    "halfcheetah-pier": (80, 130), "walker2d-randomparams": (50, 100),
    "humanoid-direc": (150, 250),
}


def m3po_config_for(task_name: str, **overrides: Any) -> M3POConfig:
    """M3POConfig with the world's Table 2 settings (if it has any), then `overrides`."""
    return replace(M3POConfig(), **{**M3PO_TASK_DEFAULTS.get(world_name(task_name), {}),
                                    **overrides})


def m3po_run_defaults(task_name: str) -> dict[str, dict[str, Any]]:
    """M3PO's config defaults for a task: its `[m3po]` settings and MBPO's loop (explore, then
    fit the model to early stopping on all data every `model_train_freq` steps)."""
    config = m3po_config_for(task_name)
    return {"m3po": dataclasses.asdict(config),
            "schedule": {"initial_samples": config.initial_random_steps,
                         "samples_per_iteration": config.model_train_freq,
                         "buffer_capacity": None, **EARLY_STOPPED_FIT}}
