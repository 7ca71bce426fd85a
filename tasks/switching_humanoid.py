"""Humanoid whose running direction switches (M3PO's Humanoid-direc).

Humanoid-v5 observing joint positions and velocities only (no com inertias, com velocities,
actuator or contact forces) plus the x-velocity of the centre of mass: 46 dims. The contact
cost is off (it depends on contact forces the observation lacks). Reward
d * 1.25 * x_velocity + 5 * 1[healthy] - 0.1 ||a||^2 with a hidden direction d in {+1, -1}
along x ("two different directions"), redrawn every 15 s: 1000 steps at dt = 0.015, the whole
episode, so in practice one direction per episode. The reward is learned (`learned_reward`);
termination (torso height outside (1, 2)) is exact.
"""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task
from stackelberg.tasks.gym_tasks import AppendXVelocity
from stackelberg.tasks.switching import DirectionWorld, hidden_reward

HORIZON = 1000
OBS_DIM, ACT_DIM = 46, 17
ACT_BOUND = 0.4
HEALTHY_Z = (1.0, 2.0)  # gymnasium's default, open interval, on qpos[2] = obs[0]


def humanoid_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    z = next_obs[..., 0]
    return ~((z > HEALTHY_Z[0]) & (z < HEALTHY_Z[1]))


def make_humanoid_env() -> gym.Env:
    return AppendXVelocity(gym.make(
        "Humanoid-v5", contact_cost_weight=0.0, include_cinert_in_observation=False,
        include_cvel_in_observation=False, include_qfrc_actuator_in_observation=False,
        include_cfrc_ext_in_observation=False))


def humanoid_direc(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = DirectionWorld(make_humanoid_env(), switch_seconds)
        env.reset(seed=seed)
        return env

    return Task(
        name="humanoid-direc",
        make_env=make_env,
        reward_fn=hidden_reward,
        termination_fn=humanoid_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -ACT_BOUND),
        act_high=np.full(ACT_DIM, ACT_BOUND),
        learned_reward=True,
        description=("Humanoid-v5, joints and com x-velocity only (46 dims); reward d * 1.25 "
                     "x_velocity + healthy - ctrl with a hidden direction d = +-1 redrawn every "
                     "15 s (1000 steps: once per episode)."),
    )
