"""The model environment: rolls a policy out in a learned model (any model player's `step`), every
start state on every ensemble member, all trajectories and members as tensor dimensions, one Python
step per time step; rewards and ends from the task's own functions. NPG, the Game's J(pi, M)
and the diagnostics share it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from stackelberg.tasks import Task


@dataclass
class SyntheticPaths:
    """Padded paths; `mask[i, t]` is True for the steps a path really has (a prefix)."""

    obs: torch.Tensor  # (N, T, obs_dim)
    act: torch.Tensor  # (N, T, act_dim)
    reward: torch.Tensor  # (N, T)
    mask: torch.Tensor  # (N, T) bool
    terminated: torch.Tensor  # (N,) bool

    @property
    def lengths(self) -> torch.Tensor:
        return self.mask.sum(1)

    def returns(self) -> torch.Tensor:
        """Undiscounted return of each path."""
        return torch.where(self.mask, self.reward, torch.zeros_like(self.reward)).sum(1)

    def keep(self, rows: torch.Tensor) -> "SyntheticPaths":
        return SyntheticPaths(self.obs[rows], self.act[rows], self.reward[rows], self.mask[rows],
                              self.terminated[rows])


@torch.no_grad()
def model_rollouts(step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   policy_sample: Callable[[torch.Tensor], torch.Tensor],
                   task: Task, start_states: torch.Tensor, ensemble_size: int, horizon: int,
                   action_clamp: Optional[float] = 100.0) -> SyntheticPaths:
    """Roll each of the n start states through each of the E members for `horizon` steps.

    `step(obs (E, n, d), act (E, n, a)) -> next_obs (E, n, d)`; `policy_sample(obs) -> act`.
    A path ends at its first terminal transition, which it keeps with its reward. Rolling stops
    early once every path has ended. Returns E * n paths, member-major.
    """
    n, obs_dim = start_states.shape
    obs = start_states.unsqueeze(0).expand(ensemble_size, n, obs_dim).contiguous()
    alive = torch.ones(ensemble_size, n, dtype=torch.bool, device=obs.device)
    terminated = torch.zeros_like(alive)
    observations, actions, rewards, masks = [], [], [], []
    for _ in range(horizon):
        act = policy_sample(obs)
        if action_clamp is not None:
            act = act.clamp(-action_clamp, action_clamp)
        next_obs = step(obs, act)
        done = task.termination_fn(obs, act, next_obs)
        observations.append(obs); actions.append(act); masks.append(alive)
        rewards.append(task.reward_fn(obs, act, next_obs))
        terminated = terminated | (alive & done)
        alive = alive & ~done
        obs = next_obs
        if not alive.any():
            break

    def stack(items: list[torch.Tensor]) -> torch.Tensor:
        x = torch.stack(items, dim=2)  # (E, n, T, ...)
        return x.reshape(ensemble_size * n, *x.shape[2:])

    return SyntheticPaths(obs=stack(observations), act=stack(actions), reward=stack(rewards),
                          mask=stack(masks), terminated=terminated.reshape(-1))
