"""A fixed-capacity FIFO of synthetic transitions kept as preallocated tensors (a ring buffer):
MBPO adds ~1e5 model transitions per model fit and draws SAC batches from them, so appends and
uniform sampling must be tensor operations, not Python lists."""
from __future__ import annotations

import torch

FIELDS = ("obs", "act", "reward", "next_obs", "done")


class TransitionRing:
    """Transitions (obs, act, reward, next_obs, done); the oldest are overwritten when full."""

    def __init__(self, obs_dim: int, act_dim: int, capacity: int = 0,
                 device: str | torch.device = "cpu"):
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.device = torch.device(device)
        self.capacity = 0
        self.size = 0
        self.ptr = 0  # next write position
        self.data = self._allocate(0)
        self.resize(capacity)

    def __len__(self) -> int:
        return self.size

    def _allocate(self, capacity: int) -> dict[str, torch.Tensor]:
        d, a, dev = self.obs_dim, self.act_dim, self.device
        return {"obs": torch.empty(capacity, d, device=dev), "act": torch.empty(capacity, a, device=dev),
                "reward": torch.empty(capacity, device=dev), "next_obs": torch.empty(capacity, d, device=dev),
                "done": torch.empty(capacity, dtype=torch.bool, device=dev)}

    def contents(self) -> dict[str, torch.Tensor]:
        """Stored transitions, oldest first."""
        order = (self.ptr - self.size + torch.arange(self.size, device=self.device)) % max(self.capacity, 1)
        return {k: v[order] for k, v in self.data.items()}

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest transitions that fit."""
        capacity = int(capacity)
        if capacity == self.capacity:
            return
        kept = self.contents()
        self.data, self.capacity, self.size, self.ptr = self._allocate(capacity), capacity, 0, 0
        self.add(**kept)

    def add(self, obs: torch.Tensor, act: torch.Tensor, reward: torch.Tensor,
            next_obs: torch.Tensor, done: torch.Tensor) -> None:
        if self.capacity == 0:
            return
        batch = {"obs": obs, "act": act, "reward": reward, "next_obs": next_obs, "done": done}
        n = obs.shape[0]
        if n > self.capacity:  # only the newest `capacity` would survive anyway
            batch = {k: v[n - self.capacity:] for k, v in batch.items()}
            n = self.capacity
        idx = (self.ptr + torch.arange(n, device=self.device)) % self.capacity
        for key, value in batch.items():
            self.data[key][idx] = value.to(self.device, self.data[key].dtype)
        self.ptr = (self.ptr + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def sample(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """`n` transitions drawn uniformly with replacement."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty model buffer")
        # index in age order, so a buffer restored from a checkpoint samples the same transitions
        age = torch.randint(0, self.size, (n,), generator=generator).to(self.device)
        idx = (self.ptr - self.size + age) % self.capacity
        return {k: v[idx] for k, v in self.data.items()}

    def state_dict(self) -> dict:
        return {"capacity": self.capacity, **self.contents()}

    def load_state_dict(self, state: dict) -> None:
        self.data, self.capacity, self.size, self.ptr = self._allocate(int(state["capacity"])), int(state["capacity"]), 0, 0
        self.add(**{k: state[k] for k in FIELDS})
