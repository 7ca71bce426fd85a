"""Worlds whose hidden task switches inside an episode (M3PO's meta-RL benchmarks).

A `SwitchingWorld` wraps a MuJoCo env and keeps a hidden task (a small float vector: a running
direction, a crippled leg, a torso mass and ground friction, block damping) that the observation
does not show. The task is drawn at every reset and redrawn every `switch_seconds` of simulated
time, i.e. after every `switch_steps = round(switch_seconds / dt)` env steps; the clock restarts
with each episode (a new episode is a new task, as M3PO's evaluation protocol says: "in each
episode, the task was initialized and changed randomly"). `switch_seconds=None` keeps one task
per episode.

Draws come from the env's own `np_random`, so a reset with a seed fixes every task of the
episode. The clock and the hidden task are the world's state besides the simulator's:
`world_state()` / `load_world_state()` carry them through a checkpoint, beside the env's RNG
state, and `load_world_state` puts the task back into the simulator.

A task is applied from nominal values read once, when the wrapper is built: by writing the
model's numbers, or through an MjSpec edit and recompile where derived constants must follow
(a mass). If something else (a perturbation) recompiles the model, the wrapper notices the new
model at its next step and applies the hidden task to it again: the numbers the hidden task owns
follow the task, all others keep the perturbation.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch


class SwitchingWorld(gym.Wrapper):
    """Base class: subclasses say how a hidden task is drawn (`draw`) and put into the
    simulator (`apply`), and may change the reward (`task_reward`)."""

    def __init__(self, env: gym.Env, switch_seconds: Optional[float] = 15.0):
        super().__init__(env)
        dt = float(env.unwrapped.dt)  # type: ignore[attr-defined]
        if switch_seconds is None:
            self.switch_steps: Optional[int] = None
        else:
            if not (math.isfinite(switch_seconds) and switch_seconds > 0):
                raise ValueError(f"switch_seconds must be a positive number of simulated seconds "
                                 f"(or None for one task per episode), got {switch_seconds}")
            self.switch_steps = max(1, round(switch_seconds / dt))
        self.switch_seconds = switch_seconds
        self.hidden = self.draw(self.np_random_world)
        self.clock = 0  # env steps since the last draw
        self._model: Optional[mujoco.MjModel] = None
        self.apply(self.hidden)

    # --- what a subclass defines ------------------------------------------------------------
    def draw(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def apply(self, hidden: np.ndarray) -> None:
        """Make the simulator follow `hidden` (called after every draw and every restore)."""
        raise NotImplementedError

    def task_reward(self, reward: float, info: dict, hidden: np.ndarray) -> float:
        """The reward under `hidden`; by default the env's own (the task hides dynamics only)."""
        return reward

    # --- the loop ---------------------------------------------------------------------------
    @property
    def np_random_world(self) -> np.random.Generator:
        return self.env.unwrapped.np_random

    @property
    def mj_model(self) -> mujoco.MjModel:
        return self.env.unwrapped.model  # type: ignore[attr-defined]

    def _switch(self) -> None:
        self.hidden = self.draw(self.np_random_world)
        self.clock = 0
        self._put()

    def _put(self) -> None:
        self.apply(self.hidden)
        self._model = self.mj_model

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)  # first, so that reset(seed=...) fixes the draw
        self._switch()
        info["hidden_task"] = self.hidden.copy()
        return obs, info

    def step(self, action):
        if self.mj_model is not self._model:  # recompiled by someone else: re-apply the task
            self._put()
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["hidden_task"] = self.hidden.copy()  # the task this step ran under
        reward = self.task_reward(float(reward), info, self.hidden)
        self.clock += 1
        if self.switch_steps is not None and self.clock >= self.switch_steps:
            self._switch()
        return obs, reward, terminated, truncated, info

    # --- state ------------------------------------------------------------------------------
    def world_state(self) -> dict[str, Any]:
        """The hidden task and the switch clock (the simulator and RNG states are saved apart)."""
        return {"hidden": [float(x) for x in self.hidden], "clock": int(self.clock)}

    def load_world_state(self, state: dict[str, Any]) -> None:
        hidden = np.asarray(state["hidden"], dtype=np.float64)
        if hidden.shape != self.hidden.shape:
            raise ValueError(f"a hidden task of shape {hidden.shape} does not fit "
                             f"{type(self).__name__} (shape {self.hidden.shape})")
        self.hidden, self.clock = hidden, int(state["clock"])
        self._put()


def hidden_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """The `reward_fn` of a `learned_reward` task: NaN for every transition, because the reward
    depends on the hidden task; anything that scores model rollouts with it shows NaN instead of
    a wrong number."""
    return torch.full(next_obs.shape[:-1], float("nan"), dtype=next_obs.dtype, device=next_obs.device)


def world_state(env: gym.Env) -> Optional[dict[str, Any]]:
    """`env.world_state()` if the env has a hidden task, else None."""
    get = getattr(env, "world_state", None)
    return get() if callable(get) else None


def load_world_state(env: gym.Env, state: Optional[dict[str, Any]]) -> None:
    if state is not None:
        env.load_world_state(state)  # type: ignore[attr-defined]


# --- hidden tasks shared by several worlds ----------------------------------------------------

class DirectionWorld(SwitchingWorld):
    """Run forward or backward: hidden d in {+1, -1}, drawn uniformly (with replacement) at each
    switch; the env's forward reward w * x_velocity becomes d * w * x_velocity (the env reports
    it as `info["reward_forward"]`). The dynamics do not change."""

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return np.array([1.0 if rng.random() < 0.5 else -1.0])

    def apply(self, hidden: np.ndarray) -> None:
        pass

    def task_reward(self, reward: float, info: dict, hidden: np.ndarray) -> float:
        forward = float(info["reward_forward"])
        return reward - forward + float(hidden[0]) * forward


def body_id(model: mujoco.MjModel, name: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)


def geom_id(model: mujoco.MjModel, name: str) -> int:
    return mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, name)
