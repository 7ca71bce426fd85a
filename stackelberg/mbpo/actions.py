"""What the squashed-Gaussian actor-critic players (MBPO's SAC, MEMB) share about actions: the
map between the task's action box and the actor's (-1, 1)^act_dim, acting (uniform random
before the first improvement, then the actor), and the replay buffer as actor-critic
transitions in those units."""
from __future__ import annotations

from typing import Optional

import torch

from stackelberg.core.buffers import ReplayBuffer
from stackelberg.mbpo.sac import TanhGaussianActor
from stackelberg.tasks import Task


class BoxActions:
    """Actions of `task` as a squashed actor sees them. The actor's units keep a target entropy
    or a fixed temperature meaningful across tasks; the env and the model see the task's units."""

    def __init__(self, task: Task, device: torch.device):
        self.task, self.device = task, device
        low = torch.as_tensor(task.act_low, dtype=torch.float32, device=device)
        high = torch.as_tensor(task.act_high, dtype=torch.float32, device=device)
        self.center, self.half = (high + low) / 2, (high - low) / 2
        self._real_cache: Optional[tuple[int, dict[str, torch.Tensor]]] = None

    def to_env(self, act: torch.Tensor) -> torch.Tensor:
        return self.center + self.half * act

    def to_unit(self, act: torch.Tensor) -> torch.Tensor:
        return (act - self.center) / self.half

    @torch.no_grad()
    def act(self, actor: TanhGaussianActor, obs: torch.Tensor, generator: torch.Generator,
            deterministic: bool, uniform: bool) -> torch.Tensor:
        """Env actions for (..., obs_dim) observations: tanh(mean) if `deterministic`, else a
        uniform random action if `uniform` (initial exploration), else a squashed-Gaussian draw."""
        obs = obs.to(self.device)
        if not deterministic and uniform:
            u = torch.rand((*obs.shape[:-1], self.task.act_dim), generator=generator, device=self.device)
            return self.to_env(2 * u - 1)
        return self.to_env(actor.act(obs, generator, deterministic))

    def real_data(self, replay: ReplayBuffer) -> dict[str, torch.Tensor]:
        """The replay buffer as actor-critic transitions: actions in the actor's units, `done`
        from the task's termination function (the buffer keeps only per-trajectory flags; a
        time-limit end is not a termination, and the function says so). Cached until the buffer
        grows."""
        if self._real_cache is None or self._real_cache[0] != replay.total_added:
            data = {k: v.to(self.device) for k, v in replay.tensors().items()}
            data["act"] = self.to_unit(data["act"])
            data["done"] = self.task.termination_fn(data["obs"], self.to_env(data["act"]),
                                                    data["next_obs"]).bool()
            self._real_cache = (replay.total_added, data)
        return self._real_cache[1]

    def forget(self) -> None:
        """Drop the cached transitions (after a state load the buffer may be another one)."""
        self._real_cache = None
