"""Value baseline for GAE ([mjrl] MLPBaseline): features [clip(s,-10,10)/10, tau..tau^4] with
tau = t/1000, MLP(128,128), one Adam epoch per NPG step on discounted returns."""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from stackelberg.core.networks import mlp


def value_features(obs: torch.Tensor) -> torch.Tensor:
    """obs (N, T, d) -> features (N, T, d + 4) with the time index inside each path."""
    n, horizon, _ = obs.shape
    tau = (torch.arange(horizon, device=obs.device, dtype=obs.dtype) / 1000.0)
    powers = torch.stack([tau, tau**2, tau**3, tau**4], dim=-1).expand(n, horizon, 4)
    return torch.cat([obs.clamp(-10, 10) / 10, powers], dim=-1)


class ValueBaseline(nn.Module):
    def __init__(self, obs_dim: int, hidden_sizes: Sequence[int] = (128, 128), lr: float = 1e-3,
                 weight_decay: float = 1e-3, batch_size: int = 128, epochs: int = 1):
        super().__init__()
        self.net = mlp(obs_dim + 4, 1, hidden_sizes)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=weight_decay,
                                          fused=True)
        self.batch_size, self.epochs = batch_size, epochs

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)

    def fit(self, features: torch.Tensor, returns: torch.Tensor,
            generator: torch.Generator) -> float:
        """Epochs of max(N // batch - 1, 1) mini-batch steps over a fresh permutation ([mjrl])."""
        n = features.shape[0]
        steps = max(n // self.batch_size - 1, 1)
        loss = torch.tensor(float("nan"))
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=generator).to(features.device)
            for j in range(steps):
                idx = order[j * self.batch_size:(j + 1) * self.batch_size]
                loss = ((self(features[idx]) - returns[idx]) ** 2).mean()
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
        return loss.item()
