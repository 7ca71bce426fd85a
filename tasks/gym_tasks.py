"""Gymnasium MuJoCo tasks: InvertedPendulum-v5, and Hopper-v5 and HalfCheetah-v5 with the
x-velocity observed."""
from __future__ import annotations

import functools
import sys
from typing import Callable, Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch

from stackelberg.tasks.base import Task, TransitionFn


def _drop_settotalmass_notice(message: str) -> None:
    """MuJoCo's warnings, less its deprecation notice for `settotalmass`, which gymnasium's own
    half_cheetah.xml uses: it would stand before every error message of a command that builds the
    cheetah tasks (listing tasks does), and the user can do nothing about it."""
    if "'settotalmass' is deprecated" not in message:
        sys.stderr.write(f"WARNING: {message}\n")


if mujoco.get_mju_user_warning() is None:  # a handler the user installed is left alone
    mujoco.set_mju_user_warning(_drop_settotalmass_notice)


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


def hopper() -> Task:
    return _forward_task("hopper", "Hopper-v5", obs_dim=12, act_dim=3, ctrl_cost=1e-3,
                         healthy=_hopper_healthy, termination_fn=_hopper_done,
                         description="Gymnasium Hopper-v5 with the x-velocity appended to the "
                                     "observation (12 dims).")


# --- HalfCheetah-v5 + x-velocity -----------------------------------------------------------

def _never_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def halfcheetah() -> Task:
    return _forward_task("halfcheetah", "HalfCheetah-v5", obs_dim=18, act_dim=6, ctrl_cost=0.1,
                         healthy=None, termination_fn=_never_done,
                         description="Gymnasium HalfCheetah-v5 with the x-velocity appended to the "
                                     "observation (18 dims); never terminates.")


# --- what the forward-running tasks share ---------------------------------------------------

def _make_with_x_velocity(env_id: str, seed: Optional[int] = None) -> gym.Env:
    env = AppendXVelocity(gym.make(env_id))
    env.reset(seed=seed)
    return env


def _forward_task(name: str, env_id: str, obs_dim: int, act_dim: int, ctrl_cost: float,
                  healthy: Optional[Callable[[torch.Tensor], torch.Tensor]],
                  termination_fn: TransitionFn, description: str) -> Task:
    """A Gymnasium locomotion task whose reward is x-velocity (+ 1 while `healthy`) - ctrl_cost
    |a|^2, actions in [-1, 1] (clipped, as the env sees them), the x-velocity appended last."""
    low, high = np.full(act_dim, -1.0), np.full(act_dim, 1.0)
    bounds = (torch.as_tensor(low), torch.as_tensor(high))

    def reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        act = torch.clamp(act, bounds[0].to(act), bounds[1].to(act))
        forward = next_obs[..., obs_dim - 1]
        if healthy is not None:
            forward = forward + healthy(next_obs).to(next_obs.dtype)
        return forward - ctrl_cost * (act**2).sum(dim=-1)

    return Task(
        name=name,
        make_env=functools.partial(_make_with_x_velocity, env_id),
        reward_fn=reward,
        termination_fn=termination_fn,
        horizon=1000,
        obs_dim=obs_dim,
        act_dim=act_dim,
        act_low=low,
        act_high=high,
        description=description,
    )
