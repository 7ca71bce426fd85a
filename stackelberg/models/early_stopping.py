"""Per-member early stopping on held-out data, shared by both model players.

MBPO's rule (algorithms sheet 4.4): after each epoch, a member whose held-out error fell by more
than `threshold` (relative) below its best so far is snapshotted; training stops once no member has
improved for more than `patience` epochs, and each member goes back to its own best snapshot.
Members are slices of the leading dimension of every parameter (`EnsembleLinear`).
"""
from __future__ import annotations

from typing import Sequence

import torch


class MemberEarlyStopping:
    def __init__(self, member_parameters: Sequence[torch.Tensor], threshold: float, patience: int):
        self.parameters = list(member_parameters)
        self.threshold, self.patience = threshold, patience
        members = self.parameters[0].shape[0]
        self.best = torch.full((members,), float("inf"), device=self.parameters[0].device)
        self.snapshot = [p.detach().clone() for p in self.parameters]
        self.since_improved = 0
        self.best_epoch = torch.zeros(members, dtype=torch.long)
        self.epoch = 0

    @torch.no_grad()
    def update(self, current: torch.Tensor) -> bool:
        """Record one epoch's held-out error per member; True once patience has run out."""
        self.epoch += 1
        improved = current < self.best * (1.0 - self.threshold)
        if improved.any():
            self.best = torch.where(improved, current, self.best)
            self.best_epoch[improved.cpu()] = self.epoch
            for saved, p in zip(self.snapshot, self.parameters):
                saved[improved] = p[improved]
            self.since_improved = 0
        else:
            self.since_improved += 1
        return self.since_improved > self.patience

    @torch.no_grad()
    def restore(self) -> None:
        """Every member back to its best snapshot (its initial weights if it never improved)."""
        for saved, p in zip(self.snapshot, self.parameters):
            p.copy_(saved)
