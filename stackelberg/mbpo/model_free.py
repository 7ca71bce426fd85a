"""Model-free SAC: the comparison line of [P] Figure 2, run through the same Game.

There is no model player here. `NoModel` stands in for it (it fits nothing, predicts nothing), and
the policy player is `MBPOPolicyPlayer` with model rollouts switched off and every SAC batch
drawn from real data. That leaves plain SAC (Haarnoja et al. 2018) with the usual settings: one
update per real step, a target entropy of -|A|, uniform random actions before the first update.
SAC here answers the question "does our world behave like the paper's?" without any learned model
in the way: if SAC needs far more samples on our DClaw-Turn than ROBEL's SAC did, the env is the
suspect, not PAL.

Updates come in blocks, as in MBPO's loop: the Game collects `samples_per_iteration` steps with
the current policy, then the player takes that many SAC updates.
"""
from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

import torch

from stackelberg.core.buffers import ReplayBuffer
from stackelberg.core.protocols import FitReport
from stackelberg.mbpo.config import MBPOConfig, SACConfig

# schedule knobs for model-free SAC: explore uniformly, then a block of updates every 250 steps
SAC_INITIAL_RANDOM_STEPS = 5000
SAC_TRAIN_EVERY = 250


def sac_only_config(settings: SACConfig | None = None) -> MBPOConfig:
    """The MBPO player's settings that make it plain SAC: these SAC settings, every batch from
    real data (real_ratio 1), no branched rollouts, no synthetic data in checkpoints."""
    return MBPOConfig(**asdict(settings or SACConfig()), real_ratio=1.0, rollouts_per_env_step=0,
                      save_model_buffer=False, initial_random_steps=SAC_INITIAL_RANDOM_STEPS,
                      model_train_freq=SAC_TRAIN_EVERY)


class NoModel:
    """The absent model player of a model-free game: `ensemble_size` 0 tells the Game that there
    is no model to fit, score or roll out (its columns in metrics.csv are NaN)."""

    ensemble_size = 0

    def fit(self, buffer: ReplayBuffer, epochs: int, min_steps: int, max_steps: int) -> FitReport:
        return FitReport(steps=0, train_loss=float("nan"))

    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("a model-free game has no model to step; use a model player")

    def loss(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        return torch.full((1,), float("nan"))

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def no_model(settings: None, context: Any) -> NoModel:
    """`run.model_player = "none"`: the model-free game's absent model."""
    return NoModel()


def sac_run_defaults(task_name: str) -> dict[str, dict[str, Any]]:
    """Model-free SAC's schedule: uniform exploration for the first 5,000 steps, a block of
    updates every 250 steps, every transition kept (its `[sac]` defaults are SACConfig's)."""
    return {"schedule": {"initial_samples": SAC_INITIAL_RANDOM_STEPS,
                         "samples_per_iteration": SAC_TRAIN_EVERY, "buffer_capacity": None}}


def upgrade_sac_record(record: dict[str, Any]) -> None:
    """A record of a SAC run from before `[sac]`: its SAC settings were in `[mbpo]` (with
    real data only and no rollouts, which SAC now sets itself)."""
    run, mbpo = record.get("run"), record.get("mbpo")
    if isinstance(run, dict) and run.get("policy") == "sac" and "sac" not in record \
            and isinstance(mbpo, dict):
        names = {f.name for f in fields(SACConfig)}
        record["sac"] = {k: v for k, v in mbpo.items() if k in names}
        del record["mbpo"]
