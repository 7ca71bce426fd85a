"""Small building blocks shared by players: an MLP factory and seeded construction."""
from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import torch
from torch import nn


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Torch's global RNG seeded inside the block and restored after it: a player's initial
    weights depend on its seed only, not on what ran before it."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def mlp(in_features: int, out_features: int, hidden_sizes: Sequence[int],
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    sizes = [in_features, *hidden_sizes]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)
