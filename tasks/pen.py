"""In-hand pen reorientation: gymnasium-robotics `AdroitHandPen-v1` with DAPG's 100-step horizon.

The paper used mj_envs' `pen-v0`; v1 is its maintained port (same model, obs, dense reward). Two
differences matter: v1 registers 200 steps (we pass 100, as pen-v0 did), and pen-v0 ended the
episode when the pen dropped (z < 0.075) while v1 never terminates. We follow v1: no termination,
and a dropped pen just keeps paying the -5 penalty until the time limit.
"""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task

HORIZON = 100
OBS_DIM, ACT_DIM = 45, 24
PEN_POS_Z = 26  # obs[24:27] = pen position
PEN_DIR, GOAL_DIR, POS_ERR = slice(33, 36), slice(36, 39), slice(39, 42)
MIN_SUCCESS_STEPS = 20  # DAPG: success = goal achieved on MORE than 20 of the 100 steps


def _register() -> None:
    """Register the gymnasium-robotics envs (importing the package alone does it in 1.x)."""
    import gymnasium_robotics

    gym.register_envs(gymnasium_robotics)


def _goal_terms(next_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pen-goal distance and orientation similarity, as the env computes them."""
    dist = torch.linalg.vector_norm(next_obs[..., POS_ERR], dim=-1)
    sim = (next_obs[..., PEN_DIR] * next_obs[..., GOAL_DIR]).sum(dim=-1)
    return dist, sim


def goal_achieved(next_obs: torch.Tensor) -> torch.Tensor:
    """Per-step success flag (`info["success"]` in v1, `goal_achieved` in pen-v0)."""
    dist, sim = _goal_terms(next_obs)
    return (dist < 0.075) & (sim > 0.95)


def pen_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """Dense pen reward from the next obs (no action cost):
    -dist + sim + 10[close & sim>0.9] + 50[close & sim>0.95] - 5[pen z < 0.075]."""
    dist, sim = _goal_terms(next_obs)
    close = dist < 0.075
    dtype = next_obs.dtype
    return (-dist + sim + 10.0 * (close & (sim > 0.9)).to(dtype)
            + 50.0 * (close & (sim > 0.95)).to(dtype)
            - 5.0 * (next_obs[..., PEN_POS_Z] < 0.075).to(dtype))


def pen_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """AdroitHandPen-v1 never terminates (pen-v0 stopped on a drop; we follow v1)."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def pen_success(episode_obs: torch.Tensor) -> torch.Tensor:
    """DAPG episode success: goal achieved on more than 20 steps, judged on the observations
    after each step (`episode_obs[..., 1:, :]`; the reset obs is not a step)."""
    return goal_achieved(episode_obs[..., 1:, :]).sum(dim=-1) > MIN_SUCCESS_STEPS


def make_pen_env(seed: Optional[int] = None) -> gym.Env:
    _register()
    env = gym.make("AdroitHandPen-v1", max_episode_steps=HORIZON)
    env.reset(seed=seed)
    return env


def pen() -> Task:
    return Task(
        name="pen",
        make_env=make_pen_env,
        reward_fn=pen_reward,
        termination_fn=pen_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        success_fn=pen_success,
        description=("Adroit hand pen reorientation (gymnasium-robotics AdroitHandPen-v1, 100 "
                     "steps, no termination); success = goal reached on more than 20 steps."),
    )
