"""Ant-v5 with the x-velocity observed and no contact cost, so reward = f(action, next obs).

Gymnasium's forward reward is the torso's x-velocity, which its observation lacks; `AppendXVelocity`
adds the env's own value (obs index 27). The contact cost depends on contact forces that the
27-dim obs lacks too, so it is switched off (`contact_cost_weight=0`; it averages only about
-0.001 per step under random actions).
"""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task
from stackelberg.tasks.gym_tasks import AppendXVelocity

HORIZON = 1000
OBS_DIM, ACT_DIM = 28, 8
X_VEL = 27
HEALTHY_Z = (0.2, 1.0)  # gymnasium's default healthy_z_range, closed interval
CTRL_COST_WEIGHT = 0.5
HEALTHY_REWARD = 1.0  # v5 pays it only while healthy


def ant_healthy(next_obs: torch.Tensor) -> torch.Tensor:
    """Gymnasium's `is_healthy`: finite state and torso z (obs[0]) in [0.2, 1.0].

    Gymnasium checks all of qpos and qvel; the obs has all but x and y, which cannot become
    non-finite on their own.
    """
    z = next_obs[..., 0]
    finite = torch.isfinite(next_obs).all(dim=-1)
    return finite & (z >= HEALTHY_Z[0]) & (z <= HEALTHY_Z[1])


def ant_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return ~ant_healthy(next_obs)


def ant_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """x-velocity + 1[healthy] - 0.5||a||^2, with `a` clipped to [-1, 1] as the world receives it
    (gymnasium itself does not clip inside the cost; our env loop clips before stepping)."""
    act = act.clamp(-1.0, 1.0)
    healthy = ant_healthy(next_obs).to(next_obs.dtype)
    return (next_obs[..., X_VEL] + HEALTHY_REWARD * healthy
            - CTRL_COST_WEIGHT * (act**2).sum(dim=-1).to(next_obs.dtype))


def make_ant_env(seed: Optional[int] = None) -> gym.Env:
    env = AppendXVelocity(gym.make("Ant-v5", include_cfrc_ext_in_observation=False,
                                   contact_cost_weight=0.0))
    env.reset(seed=seed)
    return env


def ant() -> Task:
    return Task(
        name="ant",
        make_env=make_ant_env,
        reward_fn=ant_reward,
        termination_fn=ant_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        description=("Gymnasium Ant-v5 without contact forces or contact cost, x-velocity "
                     "appended (28 dims); terminates when unhealthy."),
    )
