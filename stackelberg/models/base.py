"""What the two model players share: members as a leading tensor dimension, wrapped-angle
coordinates from the task, and a state dict of plain tensors (module, optimizer, data-order
generator) that loads with `torch.load(weights_only=True)`."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from stackelberg.models.angles import angle_mask, wrapping


class EnsembleModel(nn.Module):
    """Base of the ensemble model players. Subclasses set `ensemble_size`, `device`,
    `optimizer` and `generator`, and call `_set_angles` once on their device."""

    ensemble_size: int
    device: torch.device
    optimizer: torch.optim.Optimizer
    generator: torch.Generator

    def _set_angles(self, obs_dim: int, angle_dims: Sequence[int]) -> None:
        """The task's wrapped-angle coordinates (`models.angles`): derived from the task, not
        learned, so kept out of the state dict."""
        self.angle_mask = angle_mask(obs_dim, angle_dims).to(self.device)
        self._wrapped = wrapping(self.angle_mask)  # None: no angle coordinates

    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (E, B, d), the same batch for every member; (E, B, d) stays."""
        return x.unsqueeze(0).expand(self.ensemble_size, *x.shape) if x.dim() == 2 else x

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """torch's module state under "module", with the optimizer and the data-order generator
        beside it: everything a resumed fit needs."""
        return {"module": super().state_dict(*args, **kwargs), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> None:
        super().load_state_dict(state["module"], strict=strict, assign=assign)
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
