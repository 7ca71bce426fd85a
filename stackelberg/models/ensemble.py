"""Batched ensemble MLP: every member's layer is one slice of a (E, in, out) weight, so all
members run in a single `baddbmm` per layer instead of a Python loop over members."""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class EnsembleLinear(nn.Module):
    def __init__(self, ensemble_size: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default init, per member
        self.weight = nn.Parameter(torch.empty(ensemble_size, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(ensemble_size, 1, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (E, B, in) -> (E, B, out)."""
        return torch.baddbmm(self.bias, x, self.weight)


class EnsembleMLP(nn.Module):
    def __init__(self, ensemble_size: int, in_features: int, out_features: int,
                 hidden_sizes: Sequence[int], activation: type[nn.Module] = nn.ReLU):
        super().__init__()
        sizes = [in_features, *hidden_sizes, out_features]
        layers: list[nn.Module] = []
        for i in range(len(sizes) - 1):
            layers.append(EnsembleLinear(ensemble_size, sizes[i], sizes[i + 1]))
            if i < len(sizes) - 2:
                layers.append(activation())
        self.net = nn.Sequential(*layers)
        self.ensemble_size = ensemble_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def member(self, index: int) -> nn.Sequential:
        """Member `index` as an ordinary nn.Sequential of nn.Linear (for inspection and tests)."""
        layers: list[nn.Module] = []
        for layer in self.net:
            if isinstance(layer, EnsembleLinear):
                linear = nn.Linear(layer.weight.shape[1], layer.weight.shape[2])
                with torch.no_grad():
                    linear.weight.copy_(layer.weight[index].T)
                    linear.bias.copy_(layer.bias[index, 0])
                layers.append(linear)
            else:
                layers.append(type(layer)())
        return nn.Sequential(*layers)
