"""Histories of real trajectories: the last L (observation, action, reward) steps before each
step, the input a history-conditioned policy or model (M3PO's meta-policy and meta-model) reads
where the world hides a task that the recent past reveals.

Episodes are stored back to back (a `ReplayBuffer`'s `tensors()` rows, in the blocks of its
`trajectory_lengths()`); a window never reaches into the previous episode. The window before
step t of an episode that started at s0 holds steps t-L .. t-1, oldest first; the slots before
s0 are zeros with `mask` False, so the window of an episode's first step is all padding.

`HistoryLayout` is how an observation carries its window ([o_t, window before t], the window
flattened): the world appends it (`stackelberg.tasks.history`) and a model rolling out shifts it
(`HistoryLayout.shift`), so real and synthetic histories are the same windows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from stackelberg.core.buffers import ReplayBuffer


@dataclass
class HistoryWindows:
    """`steps[i, j]` is (obs, act, reward) of the j-th oldest step of row i's window;
    `mask[i, j]` says whether that step exists (False: before the episode's start, zeros)."""

    steps: torch.Tensor  # (N, L, obs_dim + act_dim + 1)
    mask: torch.Tensor  # (N, L) bool


def step_features(obs: torch.Tensor, act: torch.Tensor, reward: torch.Tensor) -> torch.Tensor:
    """One row per step: [obs, act, reward], shape (T, obs_dim + act_dim + 1)."""
    return torch.cat([obs, act.to(obs.dtype), reward.to(obs.dtype).unsqueeze(-1)], dim=-1)


@dataclass(frozen=True)
class HistoryLayout:
    """An observation with its history: [o_t, steps t-L .. t-1], each step `step_features`
    (o, a, r), oldest first, zeros before the episode's start (the windows of
    `history_windows`). `obs_dim` and `act_dim` are the world's own."""

    obs_dim: int
    act_dim: int
    length: int

    @property
    def step_dim(self) -> int:
        return self.obs_dim + self.act_dim + 1

    @property
    def augmented_dim(self) -> int:
        return self.obs_dim + self.length * self.step_dim

    def observed(self, augmented: torch.Tensor) -> torch.Tensor:
        """o_t of (..., augmented_dim) observations."""
        return augmented[..., :self.obs_dim]

    def window(self, augmented: torch.Tensor) -> torch.Tensor:
        """The window before t, (..., length, step_dim), oldest step first."""
        return augmented[..., self.obs_dim:].unflatten(-1, (self.length, self.step_dim))

    def augment(self, obs: torch.Tensor, window: Optional[torch.Tensor] = None) -> torch.Tensor:
        """[obs, window flattened]; no window: an episode's first observation (all padding)."""
        if window is None:
            window = obs.new_zeros(*obs.shape[:-1], self.length, self.step_dim)
        return torch.cat([obs, window.flatten(-2)], dim=-1)

    def shift(self, augmented: torch.Tensor, act: torch.Tensor, reward: torch.Tensor,
              next_obs: torch.Tensor) -> torch.Tensor:
        """The observation after step t: o_{t+1} with the window that drops its oldest step and
        ends with step t's (o_t, a_t, r_t)."""
        step = step_features(self.observed(augmented), act, reward).unsqueeze(-2)
        window = torch.cat([self.window(augmented)[..., 1:, :], step], dim=-2)
        return self.augment(next_obs.to(augmented.dtype), window)


def history_windows(steps: torch.Tensor, episode_lengths: Sequence[int], length: int,
                    rows: Optional[torch.Tensor] = None, through: bool = False) -> HistoryWindows:
    """The window of each row of `steps` (episodes back to back, `episode_lengths` rows each),
    or of the rows in `rows`: steps t-L .. t-1 of row t's episode, or t-L+1 .. t with
    `through=True` (the history that goes with row t's next observation)."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"history length must be a positive int, got {length!r}")
    lengths = torch.as_tensor(list(episode_lengths), dtype=torch.long)
    if (lengths < 1).any() or int(lengths.sum()) != steps.shape[0]:
        raise ValueError(f"episode lengths {lengths.tolist()} must be positive and add up to the "
                         f"{steps.shape[0]} rows of steps")
    starts = torch.cumsum(lengths, 0) - lengths
    episode_start = torch.repeat_interleave(starts, lengths)  # (T,): each row's episode start
    if rows is None:
        rows = torch.arange(steps.shape[0])
    rows = rows.long()
    end = rows + 1 if through else rows  # the window is [end - L, end)
    index = end.unsqueeze(-1) - length + torch.arange(length)  # (N, L)
    mask = index >= episode_start[rows].unsqueeze(-1)
    gathered = steps[index.clamp(min=0)]
    return HistoryWindows(steps=gathered * mask.unsqueeze(-1).to(steps.dtype), mask=mask)


def replay_history_windows(replay: ReplayBuffer, length: int, rows: Optional[torch.Tensor] = None,
                           through: bool = False) -> HistoryWindows:
    """`history_windows` over a replay buffer's transitions (rows of `replay.tensors()`); each
    stored trajectory is one episode from its start, as the game collects them."""
    data = replay.tensors()
    return history_windows(step_features(data["obs"], data["act"], data["reward"]),
                           replay.trajectory_lengths(), length, rows, through)
