"""The `Task` record: a world (a gymnasium env factory) plus the batched functions that let a
learned model be scored exactly as the world scores it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import gymnasium as gym
import numpy as np
import torch

# (obs, action, next_obs) -> reward or done, all batched over leading dimensions.
TransitionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (episode observations of shape (..., T + 1, obs_dim)) -> success flag of shape (...)
SuccessFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Task:
    """Everything the game needs to know about a world.

    `reward_fn` and `termination_fn` take batched torch tensors `(obs, act, next_obs)` with any
    leading shape and return one value per transition. They must equal what the env returns on
    real transitions (the task tests check this), so synthetic rollouts are scored exactly.
    `act` may be outside the action bounds (model rollouts do not clip); the functions clip it
    where the env would.
    """

    name: str
    make_env: Callable[[Optional[int]], gym.Env]
    reward_fn: TransitionFn
    termination_fn: TransitionFn
    horizon: int
    obs_dim: int
    act_dim: int
    act_low: np.ndarray
    act_high: np.ndarray
    success_fn: Optional[SuccessFn] = None
    description: str = ""

    def clip_action(self, act: torch.Tensor) -> torch.Tensor:
        low = torch.as_tensor(self.act_low, dtype=act.dtype, device=act.device)
        high = torch.as_tensor(self.act_high, dtype=act.dtype, device=act.device)
        return torch.maximum(torch.minimum(act, high), low)
