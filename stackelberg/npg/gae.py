"""Generalised advantage estimation on padded batches of variable-length paths.

Paths are prefixes: `mask[i, t]` is True for t < length_i. After the last step the value is 0
for a terminated path and V(s_last) (the last prediction repeated, as [mjrl]) otherwise.
"""
from __future__ import annotations

import torch


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """G_t = sum_l gamma^l r_{t+l} within each path, no bootstrap. Shapes (N, T)."""
    rewards = torch.where(mask, rewards, torch.zeros_like(rewards))
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return torch.where(mask, out, torch.zeros_like(out))


def gae_advantages(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor,
                   terminated: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """A_t = sum_l (gamma*lam)^l delta_{t+l}, delta_t = r_t + gamma V_{t+1} - V_t. Shapes (N, T)."""
    zeros = torch.zeros_like(rewards)
    rewards = torch.where(mask, rewards, zeros)
    values = torch.where(mask, values, zeros)
    n, horizon = rewards.shape
    lengths = mask.sum(1)
    last_value = values[torch.arange(n), (lengths - 1).clamp(min=0)]
    bootstrap = torch.where(terminated, torch.zeros_like(last_value), last_value)
    adv = torch.zeros_like(rewards)
    running = torch.zeros_like(bootstrap)
    for t in range(horizon - 1, -1, -1):
        inside = (t + 1) < lengths
        next_value = values[:, t + 1] if t + 1 < horizon else bootstrap
        next_value = torch.where(inside, next_value, bootstrap)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        running = delta + gamma * lam * torch.where(inside, running, torch.zeros_like(running))
        adv[:, t] = running
    return torch.where(mask, adv, zeros)
