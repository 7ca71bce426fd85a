"""The model environment (a model-env in mbrl-lib's sense): a learned model stepped like the
world, with rewards and ends from the task's own functions (or the model's reward head). Every
model rollout of the library goes through it:

* `model_rollouts`: every start state on every ensemble member, all trajectories and members
  as tensor dimensions, one Python step per time step (NPG's rollouts, the Game's J(pi, M), the
  diagnostics' open- and closed-loop states, render's predicted episode);
* `branched_rollouts`: short branches from real states, one sampled transition per branch and
  step, a branch dropped once it ends (MBPO's synthetic data).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Optional

import torch

from stackelberg.core.errors import UserInputError
from stackelberg.tasks import Task

#: obs, act -> (next_obs, the model's reward or None when it has no reward head)
Predict = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, Optional[torch.Tensor]]]
#: obs -> act
Policy = Callable[[torch.Tensor], torch.Tensor]


def every_member(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Predict:
    """A model player's `step` (every member's next state, (E, n, d) -> (E, n, d)) as a
    prediction without a reward head."""
    return lambda obs, act: (step(obs, act), None)


def sampled_member(model: object, generator: torch.Generator) -> Predict:
    """One prediction per transition: a random elite's Gaussian draw with its reward
    (`model.sample`), or, for a model player without `sample`, a random member's `step`."""
    sample = getattr(model, "sample", None)
    if sample is not None:
        return lambda obs, act: sample(obs, act, generator)
    step = getattr(model, "step")

    def one_member(obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, None]:
        every = step(obs, act)  # (E, B, d)
        member = torch.randint(0, every.shape[0], (obs.shape[0],), generator=generator)
        return every[member.to(every.device), torch.arange(obs.shape[0], device=every.device)], None

    return one_member


class ModelEnv:
    """One step of a learned model: its next state, the reward (the task's `reward_fn` on the
    predicted state, or with `learned_reward` the model's reward head), and whether the task's
    `termination_fn` ends the transition. `device` is where predictions are moved to."""

    def __init__(self, task: Task, predict: Predict, learned_reward: bool = False,
                 device: Optional[torch.device] = None):
        self.task, self.predict, self.learned_reward, self.device = task, predict, learned_reward, device

    def step(self, obs: torch.Tensor, act: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(next_obs, reward, done as bool) of actions `act` (in the task's units) in `obs`."""
        next_obs, learned = self.predict(obs, act)
        if self.device is not None:
            next_obs = next_obs.to(self.device)
        if self.learned_reward:
            if learned is None:
                raise UserInputError("a learned reward needs a model player with a reward head "
                                     "(ProbabilisticEnsemble); use the task's reward instead")
            reward = learned if self.device is None else learned.to(self.device)
        else:
            reward = self.task.reward_fn(obs, act, next_obs)
        return next_obs, reward, self.task.termination_fn(obs, act, next_obs).bool()


@dataclass
class SyntheticPaths:
    """Padded paths; `mask[i, t]` is True for the steps a path really has (a prefix)."""

    obs: torch.Tensor  # (N, T, obs_dim)
    act: torch.Tensor  # (N, T, act_dim)
    reward: torch.Tensor  # (N, T)
    mask: torch.Tensor  # (N, T) bool
    terminated: torch.Tensor  # (N,) bool
    last_obs: torch.Tensor  # (N, obs_dim): the state the last step led to

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each path."""
        return torch.where(self.mask, self.reward, torch.zeros_like(self.reward)).sum(1)

    def states(self) -> torch.Tensor:
        """s_0..s_T of each path, ended or not: (N, T + 1, obs_dim)."""
        return torch.cat([self.obs, self.last_obs.unsqueeze(1)], dim=1)

    def keep(self, rows: torch.Tensor) -> "SyntheticPaths":
        return SyntheticPaths(self.obs[rows], self.act[rows], self.reward[rows], self.mask[rows],
                              self.terminated[rows], self.last_obs[rows])


def replayed(actions: torch.Tensor) -> Policy:
    """The actions of an open-loop rollout: call t returns `actions[:, t]` (N, T, act_dim) for
    every member, whatever the states."""
    steps = iter(actions.unbind(1))
    return lambda obs: next(steps).to(obs.device).expand(*obs.shape[:-1], actions.shape[-1])


@torch.no_grad()
def model_rollouts(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   policy_sample: Policy, task: Task, start_states: torch.Tensor,
                   ensemble_size: int, horizon: int, action_clamp: Optional[float] = 100.0,
                   to_horizon: bool = False) -> SyntheticPaths:
    """Roll each of the n start states through each of the E members for `horizon` steps.

    `step(obs (E, n, d), act (E, n, a)) -> next_obs (E, n, d)`; `policy_sample(obs) -> act`.
    A path ends at its first terminal transition, which it keeps with its reward. Rolling stops
    early once every path has ended, unless `to_horizon` (the states after an end are the
    model's continued predictions). Returns E * n paths, member-major.
    """
    env = ModelEnv(task, every_member(step))
    n, obs_dim = start_states.shape
    obs = start_states.unsqueeze(0).expand(ensemble_size, n, obs_dim).contiguous()
    alive = torch.ones(ensemble_size, n, dtype=torch.bool, device=obs.device)
    terminated = torch.zeros_like(alive)
    observations, actions, rewards, masks = [], [], [], []
    for _ in range(horizon):
        act = policy_sample(obs)
        if action_clamp is not None:
            act = act.clamp(-action_clamp, action_clamp)
        next_obs, reward, done = env.step(obs, act)
        observations.append(obs); actions.append(act); masks.append(alive); rewards.append(reward)
        terminated = terminated | (alive & done)
        alive = alive & ~done
        obs = next_obs
        if not to_horizon and not alive.any():
            break

    def stack(items: list[torch.Tensor]) -> torch.Tensor:
        x = torch.stack(items, dim=2)  # (E, n, T, ...)
        return x.reshape(ensemble_size * n, *x.shape[2:])

    return SyntheticPaths(obs=stack(observations), act=stack(actions), reward=stack(rewards),
                          mask=stack(masks), terminated=terminated.reshape(-1),
                          last_obs=obs.reshape(ensemble_size * n, obs_dim))


@dataclass
class Branches:
    """One step of the live branches: the transitions with finite predictions, terminal ones
    included. `act` is in the policy's units; `rows` are the branches' start-state indices."""

    obs: torch.Tensor
    act: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    done: torch.Tensor  # bool
    rows: torch.Tensor


@torch.no_grad()
def branched_rollouts(env: ModelEnv, policy: Policy, starts: torch.Tensor, length: int,
                      to_task_units: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
                      ) -> Iterator[Branches]:
    """Branches of up to `length` steps from `starts` (n, d), one step per item. A branch ends
    at a terminal transition or a non-finite prediction (which is dropped); only live branches
    are stepped. `to_task_units` maps the policy's actions to the task's (e.g. a squashed actor's
    (-1, 1) to the action box); the model sees the task's units."""
    obs, rows = starts, torch.arange(starts.shape[0], device=starts.device)
    for _ in range(length):
        act = policy(obs)
        task_act = act if to_task_units is None else to_task_units(act)
        next_obs, reward, done = env.step(obs, task_act)
        finite = torch.isfinite(next_obs).all(-1) & torch.isfinite(reward)
        yield Branches(obs[finite], act[finite], reward[finite], next_obs[finite], done[finite],
                       rows[finite])
        keep = finite & ~done
        obs, rows = next_obs[keep], rows[keep]
        if obs.shape[0] == 0:
            break
