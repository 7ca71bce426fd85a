"""Tasks whose observation carries the recent past: the last L (observation, action, reward)
steps appended to the world's observation (M3PO's history h_t, the input of its meta-policy and
meta-model).

The history travels in the observation, so everything that handles observations handles
histories unchanged: the replay buffer stores them, MBPO's branched rollouts start from real
histories (`sample_states` draws h_t uniformly from the real data), evaluation and rendering
see them, a checkpoint keeps them. The layout is `stackelberg.core.history.HistoryLayout`
([o_t, steps t-L .. t-1 oldest first], zeros before the episode's start): the world and a model
rollout shift the same window (`HistoryLayout.shift`).

On the command line a history task is a task name with `+hL`: `halfcheetah-fwd-bwd+h10` is
`halfcheetah-fwd-bwd` with M3PO's L = 10 (Table 2). The six switching worlds are registered
with L = 10; another length or another world is `with_history(task, L)` registered from a
module of yours (`tasks.register`, `--import MODULE`).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Optional

import re

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.history import HistoryLayout
from stackelberg.tasks.base import Task, TransitionFn
from stackelberg.tasks.switching import load_world_state, world_state

#: M3PO's history length (Table 2, L)
HISTORY_LENGTH = 10


def history_name(name: str, length: int) -> str:
    """The registered name of `name` with an L-step history: "NAME+hL"."""
    return f"{name}+h{length}"


def world_name(name: str) -> str:
    """The task under a history task's name: "halfcheetah-fwd-bwd+h10" -> "halfcheetah-fwd-bwd"."""
    return re.sub(r"\+h\d+$", "", name)


class HistoryObservation(gym.Wrapper):
    """Appends the window of the last `layout.length` steps to every observation. The window
    holds the action the world received and the reward it returned; a reset starts an empty
    (all-zero) window. The last observation is part of the world's state (`world_state`), so a
    restore mid-episode continues the same windows."""

    def __init__(self, env: gym.Env, layout: HistoryLayout):
        super().__init__(env)
        self.layout = layout
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (layout.augmented_dim,), np.float64)
        self.augmented = layout.augment(torch.zeros(layout.obs_dim, dtype=torch.float64))

    def _observation(self) -> np.ndarray:
        return self.augmented.numpy().copy()

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.augmented = self.layout.augment(torch.as_tensor(obs, dtype=torch.float64))
        return self._observation(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        as_tensor = lambda x: torch.as_tensor(np.asarray(x, dtype=np.float64))  # noqa: E731
        self.augmented = self.layout.shift(self.augmented, as_tensor(action), as_tensor(reward),
                                           as_tensor(obs))
        return self._observation(), reward, terminated, truncated, info

    def world_state(self) -> dict[str, Any]:
        """The wrapped world's hidden task and clock (if it has them) and the last observation."""
        return {"world": world_state(self.env), "last_observation": self.augmented.tolist()}

    def load_world_state(self, state: dict[str, Any]) -> None:
        last = torch.tensor(state["last_observation"], dtype=torch.float64)
        if last.shape != self.augmented.shape:
            raise ValueError(f"a saved observation of shape {tuple(last.shape)} does not fit a "
                             f"history observation of shape {tuple(self.augmented.shape)}")
        load_world_state(self.env, state["world"])
        self.augmented = last


def with_history(task: Task, length: int = HISTORY_LENGTH) -> Task:
    """`task` with the last `length` steps in its observation: reward, termination, success and
    score read the world's own part; the mirror symmetry is dropped (it would have to mirror
    the window too)."""
    if task.history is not None:
        raise ValueError(f"task {task.name!r} already carries a history")
    layout = HistoryLayout(task.obs_dim, task.act_dim, length)

    def make_env(seed: Optional[int] = None) -> gym.Env:
        return HistoryObservation(task.make_env(seed), layout)

    def on_observed(fn: TransitionFn) -> TransitionFn:
        return lambda obs, act, next_obs: fn(layout.observed(obs), act, layout.observed(next_obs))

    def on_episode(fn: Optional[Callable[[torch.Tensor], torch.Tensor]]
                   ) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
        return None if fn is None else (lambda obs: fn(layout.observed(obs)))

    return replace(task, name=history_name(task.name, length), make_env=make_env,
                   reward_fn=on_observed(task.reward_fn),
                   termination_fn=on_observed(task.termination_fn), obs_dim=layout.augmented_dim,
                   success_fn=on_episode(task.success_fn), score_fn=on_episode(task.score_fn),
                   symmetry=None, history=layout,
                   description=f"{task.description} Observations carry the last {length} "
                               f"(observation, action, reward) steps.")


def history_factory(factory: Callable[[], Task], length: int = HISTORY_LENGTH
                    ) -> Callable[[], Task]:
    """A registry factory: `factory`'s task with a `length`-step history."""
    return lambda: with_history(factory(), length)
