"""In-hand pen reorientation: gymnasium-robotics `AdroitHandPen-v1` with DAPG's 100-step horizon.

The paper used mj_envs' `pen-v0`; v1 is its maintained port (same model, obs, dense reward). Two
differences matter: v1 registers 200 steps (we pass 100, as pen-v0 did), and pen-v0 ends the
episode when the pen drops (z < 0.075) while v1 never terminates. `pen` follows the paper's
pen-v0: the episode ends at the drop, in the world (a wrapper) and in the model's rollouts
(`pen_done`), as the authors' code does (mj_envs `pen_v0.py`: `done = True` on a drop; their
model-based NPG cuts model rollouts at the first drop with the env's `truncate_paths`). Ending
there keeps the -5 of the drop step and stops the value targets from bootstrapping through a
fallen pen. `pen-noterm` is v1 as Gymnasium-Robotics ships it, never ending on a drop.

`pen-vel` (ours, not the paper's) appends the hand's 24 joint velocities to pen-v0's 45-dim
observation. pen-v0 observes the hand's joint positions only; under the fingers' soft position
servos (kp = 1) where a finger goes next depends on how fast it moves, so from the 45 dims a model
cannot predict the hand (runs/fig2-robel/probes/pen_markov_state.py: held-out error on the hand's joints 1.17 of
their variance without the velocities, 0.05 with them). The first 45 dims, the reward, the drop
and the success test are pen's.
"""
from __future__ import annotations

import functools
from typing import Optional

import gymnasium as gym
import numpy as np
import torch

from stackelberg.tasks.base import Task

HORIZON = 100
OBS_DIM, ACT_DIM = 45, 24
HAND_JOINTS = 24  # qvel[0:24]: the hand's joints (qvel[24:30] is the pen, already in obs[27:33])
PEN_POS_Z = 26  # obs[24:27] = pen position
DROP_HEIGHT = 0.075  # pen-v0: below this the pen has fallen (-5 per step, and the episode ends)
PEN_DIR, GOAL_DIR, POS_ERR = slice(33, 36), slice(36, 39), slice(39, 42)
MIN_SUCCESS_STEPS = 20  # DAPG: success = goal achieved on MORE than 20 of the 100 steps


def _register() -> None:
    """Register the gymnasium-robotics envs (importing the package alone does it in 1.x). Its
    import prints a notice about other Adroit envs (Relocate, Hammer, Door; not the pen) to
    stderr, which would stand before every message of ours: the notice is dropped from the
    table it is read from."""
    try:
        from farama_notifications import notifications

        notifications.pop("gymnasium_robotics", None)
    except ImportError:  # an installation without the notices
        pass
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
            - 5.0 * (next_obs[..., PEN_POS_Z] < DROP_HEIGHT).to(dtype))


def pen_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """pen-v0's termination: the pen has dropped below the hand (z < 0.075)."""
    return next_obs[..., PEN_POS_Z] < DROP_HEIGHT


def never_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """AdroitHandPen-v1 never terminates."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


class EndOnDrop(gym.Wrapper):
    """pen-v0's episode end on v1: `terminated` once the pen is below DROP_HEIGHT."""

    def step(self, action):  # type: ignore[no-untyped-def]
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, bool(terminated or obs[PEN_POS_Z] < DROP_HEIGHT), truncated, info


class HandVelocity(gym.ObservationWrapper):
    """pen-v0's observation followed by the hand's joint velocities (`pen-vel`)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        extra = np.full(HAND_JOINTS, np.inf, dtype=space.dtype)
        self.observation_space = gym.spaces.Box(np.concatenate([space.low, -extra]),
                                                np.concatenate([space.high, extra]),
                                                dtype=space.dtype)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        qvel = self.env.unwrapped.data.qvel[:HAND_JOINTS]
        return np.concatenate([observation, qvel]).astype(self.observation_space.dtype)


def pen_success(episode_obs: torch.Tensor) -> torch.Tensor:
    """DAPG episode success: goal achieved on more than 20 steps, judged on the observations
    after each step (`episode_obs[..., 1:, :]`; the reset obs is not a step)."""
    return goal_achieved(episode_obs[..., 1:, :]).sum(dim=-1) > MIN_SUCCESS_STEPS


def make_pen_env(seed: Optional[int] = None, end_on_drop: bool = True,
                 hand_velocity: bool = False) -> gym.Env:
    _register()
    env = gym.make("AdroitHandPen-v1", max_episode_steps=HORIZON)
    if hand_velocity:
        env = HandVelocity(env)
    if end_on_drop:
        env = EndOnDrop(env)
    env.reset(seed=seed)
    return env


def _pen_task(name: str, end_on_drop: bool, ending: str, hand_velocity: bool = False) -> Task:
    observed = " + the hand's joint velocities (69 dims)" if hand_velocity else ""
    return Task(
        name=name,
        make_env=functools.partial(make_pen_env, end_on_drop=end_on_drop,
                                   hand_velocity=hand_velocity),
        reward_fn=pen_reward,
        termination_fn=pen_done if end_on_drop else never_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM + (HAND_JOINTS if hand_velocity else 0),
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        success_fn=pen_success,
        # [P] B.1: the hand is reported with N = 10 x H for PAL ("more stable"; 5 x H elsewhere)
        algo_defaults={"pal": {"schedule": {"samples_horizon_multiple": 10}}},
        description=(f"Adroit hand pen reorientation (gymnasium-robotics AdroitHandPen-v1, 100 "
                     f"steps, {ending}{observed}); success = goal reached on more than 20 steps."),
    )


def pen() -> Task:
    """The paper's pen-v0: the episode ends when the pen drops."""
    return _pen_task("pen", True, "the episode ends when the pen drops, as pen-v0")


def pen_noterm() -> Task:
    """AdroitHandPen-v1 unchanged: a dropped pen keeps paying -5 until the time limit."""
    return _pen_task("pen-noterm", False, "no termination, as v1")


def pen_vel() -> Task:
    """`pen` with the hand's joint velocities observed (ours): the same world, reward, drop and
    success; the model player can then predict where the fingers go."""
    return _pen_task("pen-vel", True, "the episode ends when the pen drops", hand_velocity=True)
