"""Histories of real trajectories: the last L (observation, action, reward) steps before each
step, the input a history-conditioned policy or model (M3PO's meta-policy and meta-model) reads
where the world hides a task that the recent past reveals.

Episodes are stored back to back (a `ReplayBuffer`'s `tensors()` rows, in the blocks of its
`trajectory_lengths()`); a window never reaches into the previous episode. The window before
step t of an episode that started at s0 holds steps t-L .. t-1, oldest first; the slots before
s0 are zeros with `mask` False, so the window of an episode's first step is all padding.
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
