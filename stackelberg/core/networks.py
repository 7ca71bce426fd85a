"""Small building blocks shared by players: an MLP factory."""
from __future__ import annotations

from typing import Sequence

from torch import nn


def mlp(in_features: int, out_features: int, hidden_sizes: Sequence[int],
        activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    sizes = [in_features, *hidden_sizes]
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(sizes[-1], out_features))
    return nn.Sequential(*layers)
