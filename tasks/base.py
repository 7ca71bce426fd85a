"""The `Task` record: a world (a gymnasium env factory) plus the batched functions that let a
learned model be scored exactly as the world scores it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Union

import gymnasium as gym
import numpy as np
import torch

# (obs, action, next_obs) -> reward or done, all batched over leading dimensions.
TransitionFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
# (episode observations of shape (..., T + 1, obs_dim)) -> success flag of shape (...)
SuccessFn = Callable[[torch.Tensor], torch.Tensor]
# (episode observations of shape (..., T + 1, obs_dim)) -> one score per episode, shape (...)
ScoreFn = Callable[[torch.Tensor], torch.Tensor]
ParamValue = Union[float, str]


@dataclass(frozen=True)
class WorldChange:
    """One way to change a task's world in the middle of a run (a perturbation target).

    `apply(env, params)` edits the env in place (reach the simulator via `env.unwrapped`) and
    raises ValueError on parameters it cannot honour. `defaults` names every parameter it
    accepts with its default value, so a perturbation can be resolved, checked and logged
    before it fires; a default of "" marks an optional parameter without a default.
    """

    apply: Callable[[gym.Env, Mapping[str, ParamValue]], None]
    defaults: Mapping[str, ParamValue]
    doc: str = ""


@dataclass(frozen=True)
class Task:
    """Everything the game needs to know about a world.

    `reward_fn` and `termination_fn` take batched torch tensors `(obs, act, next_obs)` with any
    leading shape and return one value per transition. They must equal what the env returns on
    real transitions (the task tests check this), so synthetic rollouts are scored exactly.
    `act` may be outside the action bounds (model rollouts do not clip); the functions clip it
    where the env would.

    Optional extras: `score_fn` is a per-episode evaluation score besides the return (e.g. the
    mean fingertip-goal distance of the paper's Figure 4; `score_name` says what it measures),
    logged as `eval_score`. `goal_shift` and `dynamics_targets` are the task's own ways to change
    its world mid-run (`stackelberg.perturbations`); `mass` and `damping` work on any MuJoCo
    task without them, and `default_dynamics_target` is what a bare `dynamics@N` changes.
    `angle_dims` lists observation coordinates the world wraps into [-pi, pi): the model players
    learn their change wrapped (`stackelberg.angles`) unless `model.wrap_angles = false`.
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
    score_fn: Optional[ScoreFn] = None
    score_name: str = "score"
    goal_shift: Optional[WorldChange] = None
    dynamics_targets: Mapping[str, WorldChange] = field(default_factory=dict)
    default_dynamics_target: str = "mass"
    angle_dims: tuple[int, ...] = ()

    def clip_action(self, act: torch.Tensor) -> torch.Tensor:
        low = torch.as_tensor(self.act_low, dtype=act.dtype, device=act.device)
        high = torch.as_tensor(self.act_high, dtype=act.dtype, device=act.device)
        return torch.maximum(torch.minimum(act, high), low)
