"""Observation coordinates that are angles wrapped into [-pi, pi).

A world that reports an angle wrapped (DClaw's valve-to-target error, DKitty's yaw) makes a
plain residual model see a jump of 2*pi whenever the angle crosses +-pi; a regression to the
mean then predicts angles between the two branches, i.e. near 0, which is where the reward is
best. Models therefore learn the *wrapped* change of such coordinates and wrap what they predict.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch

__all__ = ["wrap_to_pi", "angle_mask", "wrapping", "state_change", "apply_change"]


def wrap_to_pi(x: torch.Tensor) -> torch.Tensor:
    """((x + pi) mod 2pi) - pi, the convention ROBEL uses."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


def angle_mask(obs_dim: int, angle_dims: Sequence[int]) -> torch.Tensor:
    """Boolean mask of the angle coordinates; says which index is wrong if one is out of range."""
    mask = torch.zeros(obs_dim, dtype=torch.bool)
    for i in angle_dims:
        if not -obs_dim <= int(i) < obs_dim:
            raise ValueError(f"angle coordinate {i} is outside the observation (dimension {obs_dim})")
        mask[int(i)] = True
    return mask


def wrapping(mask: torch.Tensor) -> Optional[torch.Tensor]:
    """The mask if it marks any coordinate, else None: decided once, so the hot path of a model
    without angles is a plain subtraction and never asks the device about the mask."""
    return mask if bool(mask.any()) else None


def state_change(obs: torch.Tensor, next_obs: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """next_obs - obs, with the change of every masked coordinate wrapped into [-pi, pi)."""
    delta = next_obs - obs
    return delta if mask is None else torch.where(mask.to(delta.device), wrap_to_pi(delta), delta)


def apply_change(obs: torch.Tensor, delta: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    """obs + delta, with every masked coordinate wrapped back into [-pi, pi)."""
    nxt = obs + delta
    return nxt if mask is None else torch.where(mask.to(nxt.device), wrap_to_pi(nxt), nxt)
