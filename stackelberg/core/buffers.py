"""Real-world data: a FIFO transition buffer of whole trajectories and the initial-state buffer."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class Trajectory:
    """One real episode (or its part collected in one batch). Actions are stored unclipped."""

    obs: torch.Tensor  # (T, obs_dim)
    act: torch.Tensor  # (T, act_dim)
    next_obs: torch.Tensor  # (T, obs_dim)
    reward: torch.Tensor  # (T,)
    terminated: bool

    def __len__(self) -> int:
        return self.obs.shape[0]


class ReplayBuffer:
    """Keeps the most recent trajectories, dropping whole oldest ones beyond `capacity`
    transitions (None = unbounded). This is the model player's training set: the capacity is
    how PAL's model forgets and MAL's aggregates.
    """

    def __init__(self, capacity: Optional[int] = None):
        self.capacity = capacity
        self._trajectories: deque[Trajectory] = deque()
        self._size = 0
        self._total_added = 0
        self._cache: Optional[dict[str, torch.Tensor]] = None

    def __len__(self) -> int:
        return self._size

    @property
    def num_trajectories(self) -> int:
        return len(self._trajectories)

    @property
    def total_added(self) -> int:
        """Transitions ever added, including those since dropped: a monotonic clock of real
        environment steps, so a player can tell how much new data arrived since it last looked."""
        return self._total_added

    def add(self, trajectory: Trajectory) -> None:
        self._trajectories.append(trajectory)
        self._size += len(trajectory)
        self._total_added += len(trajectory)
        # FIFO over whole trajectories, but never drop the newest one.
        while self.capacity is not None and self._size > self.capacity and len(self._trajectories) > 1:
            self._size -= len(self._trajectories.popleft())
        self._cache = None

    def tensors(self) -> dict[str, torch.Tensor]:
        """All stored transitions, concatenated: obs, act, next_obs, reward."""
        if self._cache is None:
            trajs = list(self._trajectories)
            self._cache = {
                key: torch.cat([getattr(t, key) for t in trajs]) for key in
                ("obs", "act", "next_obs", "reward")
            }
        return self._cache

    def trajectory_lengths(self) -> list[int]:
        """Length of each stored trajectory, oldest first (the row blocks of `tensors()`)."""
        return [len(t) for t in self._trajectories]

    def sample_states(self, n: int, generator: torch.Generator) -> torch.Tensor:
        obs = self.tensors()["obs"]
        idx = torch.randint(0, obs.shape[0], (n,), generator=generator)
        return obs[idx]

    def state_dict(self) -> dict:
        return {
            "capacity": -1 if self.capacity is None else self.capacity,
            "total_added": self._total_added,
            "trajectories": [
                {"obs": t.obs, "act": t.act, "next_obs": t.next_obs, "reward": t.reward,
                 "terminated": torch.tensor(t.terminated)} for t in self._trajectories
            ],
        }

    def load_state_dict(self, state: dict) -> None:
        self.capacity = None if state["capacity"] == -1 else int(state["capacity"])
        self._trajectories.clear()
        self._size = 0
        for t in state["trajectories"]:
            self.add(Trajectory(t["obs"], t["act"], t["next_obs"], t["reward"], bool(t["terminated"])))
        # a state without the counter: the stored transitions are the best lower bound
        self._total_added = int(state.get("total_added", self._size))


class InitialStateBuffer:
    """First observation of every real trajectory ever collected; never trimmed ([mjrl])."""

    def __init__(self) -> None:
        self._states: list[torch.Tensor] = []
        self._stacked: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return len(self._states)

    def add(self, state: torch.Tensor) -> None:
        self._states.append(state)
        self._stacked = None

    def states(self) -> torch.Tensor:
        if self._stacked is None:
            self._stacked = torch.stack(self._states)
        return self._stacked

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        states = self.states()
        return states[torch.randint(0, states.shape[0], (n,), generator=generator)]

    def state_dict(self) -> dict:
        return {"states": self.states() if self._states else torch.empty(0)}

    def load_state_dict(self, state: dict) -> None:
        self._states = list(state["states"])
        self._stacked = None
