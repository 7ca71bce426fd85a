"""Ant worlds whose hidden task switches (M3PO's Ant-fwd-bwd and Ant-crippled-leg).

Both are the library's `ant` (Ant-v5, no contact forces or contact cost, x-velocity appended:
28 dims, terminates when unhealthy) with a hidden task redrawn every 15 s (300 steps at
dt = 0.05):

- `ant-fwd-bwd`: the forward reward x_velocity becomes d * x_velocity, d in {+1, -1}, so the
  reward is learned (`learned_reward`); the dynamics do not change.
- `ant-crippled-leg`: one of the four legs, drawn uniformly (with replacement), is crippled:
  the gear of its two motors (hip and ankle) is 0, so that leg's actions move nothing. The
  reward is the ant's own, an exact function of (action, next obs): the control cost is paid on
  the commanded action, crippled leg or not, so only the dynamics are hidden.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch

from stackelberg.tasks.ant import X_VEL, ant, ant_reward, make_ant_env
from stackelberg.tasks.base import Task
from stackelberg.tasks.switching import DirectionWorld, SwitchingWorld, hidden_reward

LEGS = 4
# Ant-v5's motors, in order: hip_4, ankle_4, hip_1, ankle_1, hip_2, ankle_2, hip_3, ankle_3;
# leg j (0..3) is driven by motors 2j and 2j + 1.
LEG_MOTORS = tuple((2 * j, 2 * j + 1) for j in range(LEGS))


class CrippledLegWorld(SwitchingWorld):
    """Hidden task: the index of the crippled leg (0..3; see `LEG_MOTORS`)."""

    def __init__(self, env: gym.Env, switch_seconds: Optional[float] = 15.0):
        model: mujoco.MjModel = env.unwrapped.model  # type: ignore[attr-defined]
        if model.nu != 2 * LEGS:
            raise ValueError(f"CrippledLegWorld needs the ant's {2 * LEGS} motors, got {model.nu}")
        self.nominal_gear = model.actuator_gear[:, 0].copy()
        super().__init__(env, switch_seconds)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([float(rng.integers(LEGS))])

    def apply(self, hidden: np.ndarray) -> None:
        gear = self.nominal_gear.copy()
        gear[list(LEG_MOTORS[int(hidden[0])])] = 0.0
        self.mj_model.actuator_gear[:, 0] = gear


def mean_forward_velocity(episode_obs: torch.Tensor) -> torch.Tensor:
    """The torso's x-velocity (m/s) averaged over the observations after each step: M3PO's
    appendix says M2PO learns to stand still on the crippled-leg Ant at returns like M3PO's,
    which the return alone cannot show."""
    return episode_obs[..., 1:, X_VEL].mean(dim=-1)


def _ant_task(name: str, make_env: Callable[[Optional[int]], gym.Env], description: str,
              learned_reward: bool) -> Task:
    """The `ant` task in another world."""
    return replace(ant(), name=name, make_env=make_env, description=description,
                   reward_fn=hidden_reward if learned_reward else ant_reward,
                   learned_reward=learned_reward)


def ant_fwd_bwd(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = DirectionWorld(make_ant_env(), switch_seconds)
        env.reset(seed=seed)
        return env

    return _ant_task("ant-fwd-bwd", make_env, learned_reward=True, description=(
        "the ant task (28 dims) with reward d * x_velocity + healthy - 0.5||a||^2, a hidden "
        "direction d = +-1 redrawn every 15 s (300 steps)."))


def ant_crippled_leg(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = CrippledLegWorld(make_ant_env(), switch_seconds)
        env.reset(seed=seed)
        return env

    task = _ant_task("ant-crippled-leg", make_env, learned_reward=False, description=(
        "the ant task (28 dims, the ant's reward) with one hidden leg's two motors disabled, "
        "the leg redrawn every 15 s (300 steps); eval_score is the mean forward velocity (m/s)."))
    return replace(task, score_fn=mean_forward_velocity, score_name="forward_velocity")
