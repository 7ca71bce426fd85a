"""HalfCheetah whose running direction switches (M3PO's Halfcheetah-fwd-bwd).

HalfCheetah-v5 with the x-velocity appended (18 dims): its reward, d * x_velocity - 0.1 ||a||^2,
depends on the hidden direction d in {+1, -1}, redrawn every 15 s (300 steps at dt = 0.05), so
the reward is learned (`learned_reward`); the cheetah never terminates.
"""
from __future__ import annotations

from typing import Callable, Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task, TransitionFn
from stackelberg.tasks.gym_tasks import AppendXVelocity
from stackelberg.tasks.switching import DirectionWorld, hidden_reward

HORIZON = 1000
OBS_DIM, ACT_DIM = 18, 6


def never_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def make_cheetah_env() -> gym.Env:
    return AppendXVelocity(gym.make("HalfCheetah-v5"))


def cheetah_task(name: str, make_env: Callable[[Optional[int]], gym.Env], reward_fn: TransitionFn,
                 description: str, learned_reward: bool) -> Task:
    """A HalfCheetah world with the x-velocity observed (18 dims, never terminates)."""
    return Task(name=name, make_env=make_env, reward_fn=reward_fn, termination_fn=never_done,
                horizon=HORIZON, obs_dim=OBS_DIM, act_dim=ACT_DIM, act_low=np.full(ACT_DIM, -1.0),
                act_high=np.full(ACT_DIM, 1.0), learned_reward=learned_reward, description=description)


def halfcheetah_fwd_bwd(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = DirectionWorld(make_cheetah_env(), switch_seconds)
        env.reset(seed=seed)
        return env

    return cheetah_task("halfcheetah-fwd-bwd", make_env, hidden_reward, learned_reward=True, description=(
        "HalfCheetah-v5, x-velocity appended (18 dims); reward d * x_velocity - 0.1||a||^2 with a "
        "hidden direction d = +-1 redrawn every 15 s (300 steps)."))
