"""The slower ways to do what the library's hot paths do, kept only to measure them against:
the "before" column of `python -m stackelberg.bench`.

* Fisher-vector product by differentiating the mean KL twice (what generic NPG/TRPO code does)
  vs `GaussianMLPPolicy.fisher_vector_product` (closed form, one jvp + one vjp).
* The ensemble as a Python loop over separate MLPs vs `EnsembleMLP` (one baddbmm per layer).
* Adam's default multi-tensor ("foreach") update vs `fused=True`.
* `torch.compile` of the batched ensemble's train step vs eager.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from stackelberg.models.ensemble import EnsembleMLP


def member_loop(ensemble: EnsembleMLP) -> nn.ModuleList:
    """The same ensemble as separate nn.Sequential members (same weights)."""
    return nn.ModuleList(ensemble.member(i) for i in range(ensemble.ensemble_size))


def loop_forward(members: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """x: (E, B, in) -> (E, B, out), one member at a time."""
    return torch.stack([m(x[i]) for i, m in enumerate(members)])


def train_step(forward: Callable[[torch.Tensor], torch.Tensor], optimizer: torch.optim.Optimizer,
               x: torch.Tensor, y: torch.Tensor) -> None:
    """One mean-squared-error step, the dynamics model's loss shape (sum over members)."""
    loss = ((forward(x) - y) ** 2).mean(dim=(1, 2)).sum()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
