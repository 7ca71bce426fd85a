"""Gymnasium MuJoCo tasks: InvertedPendulum-v5, and Hopper-v5 and HalfCheetah-v5 with the
x-velocity observed."""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task


class AppendXVelocity(gym.Wrapper):
    """Append the env's own `info["x_velocity"]` to the observation (0 at reset).

    The forward reward of Hopper, HalfCheetah and Ant is a velocity that is not in gymnasium's observation;
    with it appended the reward is an exact function of the next observation, as the paper did.
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        low = np.append(env.observation_space.low, -np.inf).astype(np.float64)
        high = np.append(env.observation_space.high, np.inf).astype(np.float64)
        self.observation_space = gym.spaces.Box(low, high, dtype=np.float64)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return np.append(obs, 0.0), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return np.append(obs, info["x_velocity"]), reward, terminated, truncated, info


# --- InvertedPendulum-v5 -------------------------------------------------------------------

def _pendulum_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    finite = torch.isfinite(next_obs).all(dim=-1)
    return ~finite | (next_obs[..., 1].abs() > 0.2)


def _pendulum_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return (~_pendulum_done(obs, act, next_obs)).to(next_obs.dtype)


def _make_pendulum(seed: Optional[int] = None) -> gym.Env:
    env = gym.make("InvertedPendulum-v5")
    env.reset(seed=seed)
    return env


def inverted_pendulum() -> Task:
    return Task(
        name="inverted-pendulum",
        make_env=_make_pendulum,
        reward_fn=_pendulum_reward,
        termination_fn=_pendulum_done,
        horizon=1000,
        obs_dim=4,
        act_dim=1,
        act_low=np.array([-3.0]),
        act_high=np.array([3.0]),
        description="Gymnasium InvertedPendulum-v5: balance a pole on a cart (reward 1 per step).",
    )


# --- Hopper-v5 + x-velocity ----------------------------------------------------------------

def _hopper_healthy(next_obs: torch.Tensor) -> torch.Tensor:
    z, angle = next_obs[..., 0], next_obs[..., 1]
    finite = torch.isfinite(next_obs).all(dim=-1)
    state_ok = (next_obs[..., 1:11].abs() < 100.0).all(dim=-1)
    return finite & state_ok & (z > 0.7) & (angle.abs() < 0.2)


def _hopper_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return ~_hopper_healthy(next_obs)


def _make_hopper(seed: Optional[int] = None) -> gym.Env:
    env = AppendXVelocity(gym.make("Hopper-v5"))
    env.reset(seed=seed)
    return env


def hopper() -> Task:
    low, high = np.full(3, -1.0), np.full(3, 1.0)
    bounds = (torch.as_tensor(low), torch.as_tensor(high))

    def reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        act = torch.clamp(act, bounds[0].to(act), bounds[1].to(act))
        healthy = _hopper_healthy(next_obs).to(next_obs.dtype)
        return next_obs[..., 11] + healthy - 1e-3 * (act**2).sum(dim=-1)

    return Task(
        name="hopper",
        make_env=_make_hopper,
        reward_fn=reward,
        termination_fn=_hopper_done,
        horizon=1000,
        obs_dim=12,
        act_dim=3,
        act_low=low,
        act_high=high,
        description="Gymnasium Hopper-v5 with the x-velocity appended to the observation (12 dims).",
    )


# --- HalfCheetah-v5 + x-velocity -----------------------------------------------------------

def _never_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def _make_halfcheetah(seed: Optional[int] = None) -> gym.Env:
    env = AppendXVelocity(gym.make("HalfCheetah-v5"))
    env.reset(seed=seed)
    return env


def halfcheetah() -> Task:
    low, high = np.full(6, -1.0), np.full(6, 1.0)
    bounds = (torch.as_tensor(low), torch.as_tensor(high))

    def reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        act = torch.clamp(act, bounds[0].to(act), bounds[1].to(act))
        return next_obs[..., 17] - 0.1 * (act**2).sum(dim=-1)

    return Task(
        name="halfcheetah",
        make_env=_make_halfcheetah,
        reward_fn=reward,
        termination_fn=_never_done,
        horizon=1000,
        obs_dim=18,
        act_dim=6,
        act_low=low,
        act_high=high,
        description="Gymnasium HalfCheetah-v5 with the x-velocity appended to the observation "
                    "(18 dims); never terminates.",
    )
