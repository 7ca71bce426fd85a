"""The `Task` record: a world (a gymnasium env factory) plus the batched functions that let a
learned model be scored exactly as the world scores it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.history import HistoryLayout

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
class Symmetry:
    """A mirror symmetry of a world: a signed permutation of observation and action coordinates
    that maps every transition (s, a, s') onto another transition the world could produce.

    `obs_index[i]` is the coordinate that mirrored coordinate i is read from and `obs_sign[i]`
    its sign (likewise for actions). A model player can train on each transition and its mirror
    image (`model.augment_symmetry`), so what the policy learns on one side of the world also
    teaches the model about the other side. It must be an involution (mirroring twice is the
    identity) and leave reward, termination and success unchanged; the task tests check both.
    """

    obs_index: tuple[int, ...]
    obs_sign: tuple[float, ...]
    act_index: tuple[int, ...]
    act_sign: tuple[float, ...]

    def __post_init__(self) -> None:
        for kind in ("obs", "act"):
            index, sign = getattr(self, f"{kind}_index"), getattr(self, f"{kind}_sign")
            if sorted(index) != list(range(len(index))) or len(sign) != len(index):
                raise ValueError(f"Symmetry.{kind}_index must be a permutation of 0..n-1 with one "
                                 f"sign per coordinate")

    @staticmethod
    def _apply(x: torch.Tensor, index: tuple[int, ...], sign: tuple[float, ...]) -> torch.Tensor:
        signs = torch.as_tensor(sign, dtype=x.dtype, device=x.device)
        return x[..., list(index)] * signs

    def obs(self, obs: torch.Tensor) -> torch.Tensor:
        return self._apply(obs, self.obs_index, self.obs_sign)

    def act(self, act: torch.Tensor) -> torch.Tensor:
        return self._apply(act, self.act_index, self.act_sign)

    def with_mirror_images(self, data: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`data` (obs, act, next_obs; other keys, e.g. reward, copied unchanged) followed by
        its mirror image: twice as many transitions."""
        mirrored = {"obs": self.obs(data["obs"]), "act": self.act(data["act"]),
                    "next_obs": self.obs(data["next_obs"])}
        return {k: torch.cat([v, mirrored.get(k, v)]) for k, v in data.items()}


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
    its world mid-run (`stackelberg.worlds.perturbations`); `mass` and `damping` work on any MuJoCo
    task without them, and `default_dynamics_target` is what a bare `dynamics@N` changes.
    `angle_dims` lists observation coordinates the world wraps into [-pi, pi): the model players
    learn their change wrapped (`stackelberg.models.angles`) unless `model.wrap_angles = false`.
    `symmetry` is a mirror symmetry of the world, used when `model.augment_symmetry = true`.
    `learned_reward = True` marks a world whose reward depends on something the observation does
    not show (a hidden task that switches, `stackelberg.tasks.switching`): no function of
    (obs, act, next_obs) equals it, so `reward_fn` returns NaN, the model player must learn the
    reward, and the reward has no parity test (termination still does).
    `history` says the observation carries the last steps (`stackelberg.tasks.history`): its
    layout tells a model player which part is the world's own observation and how it shifts.
    `algo_defaults` are this task's settings for one solver, keyed by algorithm, as config
    sections (`{"pal": {"schedule": {"samples_horizon_multiple": 10}}}`: pen's PAL collects
    N = 10 x H per iteration, [P] B.1); they sit above the solver's own defaults and below the
    policy player's, a config file and the flags.
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
    symmetry: Optional[Symmetry] = None
    algo_defaults: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)
    learned_reward: bool = False
    history: Optional[HistoryLayout] = None
