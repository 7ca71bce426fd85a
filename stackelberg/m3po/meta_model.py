"""M3PO's meta-model (Hiraoka et al., Table 2): an ensemble of B = 3 members, each a GRU of 5
units that reads the last L = 10 (observation, action, reward) steps into a context c, and an
MLP of two hidden layers of 400 swish units that maps [o_t, a_t, c] to a Gaussian over
[r_t, o_{t+1} - o_t]. It learns the reward: on a world whose hidden task sets the reward, the
recent rewards are what reveals the task.

It is the probabilistic ensemble with the GRU as an encoder: the same Gaussian NLL, holdout early
stopping (the GRU's weights are snapshotted per member with the MLP's), elites, input scaler,
and the same `step`/`sample`, which return the next observation with its window shifted by the
predicted step, so MBPO's k = 1 rollouts branch from real histories.

Reconstructed (the appendix gives only the table row; each is a setting of `[meta_model]`):
- the GRU's input is the window's steps (o, a, r) scaled by the ensemble's input scaler, its
  context the last hidden state, from a zero start; the steps before an episode's start are
  zeros in the observation and reach the GRU as the scaled zero, a constant it learns to read;
- one GRU per member (not shared), trained with the member's MLP on the member's NLL;
- all 3 members are elites (`num_elites = 3`);
- weight decay on the MLP's layers as MBPO's first layers, none on the GRU.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn

from stackelberg.core.errors import UserInputError
from stackelberg.core.history import HistoryLayout
from stackelberg.core.knobs import knob, redefault
from stackelberg.core.registry import PlayerContext
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.models.probabilistic import ProbabilisticEnsemble
from stackelberg.tasks.history import HISTORY_LENGTH, history_name


@dataclass
class MetaModelConfig(ProbabilisticModelConfig):
    """The meta-model's settings (`[meta_model]`): the probabilistic ensemble's, at Table 2's
    sizes, and the GRU's width."""

    ensemble_size: int = redefault(ProbabilisticModelConfig, "ensemble_size", 3)
    num_elites: int = redefault(ProbabilisticModelConfig, "num_elites", 3)
    hidden_sizes: tuple[int, ...] = redefault(ProbabilisticModelConfig, "hidden_sizes", (400, 400))
    weight_decays: tuple[float, ...] = redefault(ProbabilisticModelConfig, "weight_decays",
                                                 (2.5e-5, 5e-5, 7.5e-5))
    gru_units: int = knob(5, "the GRU's hidden units: the width of the history's context",
                          limits=">= 1")


class EnsembleGRU(nn.Module):
    """One GRU per member, all members in one batched matmul per time step (as `EnsembleLinear`).
    Gates in torch.nn.GRU's order (reset, update, new) and its equations; weights (E, in, 3H)."""

    def __init__(self, ensemble_size: int, input_size: int, hidden_size: int):
        super().__init__()
        bound = 1.0 / math.sqrt(hidden_size)  # torch.nn.GRU's initialisation
        shape = lambda rows: torch.empty(ensemble_size, rows, 3 * hidden_size).uniform_(-bound, bound)  # noqa: E731
        self.weight_ih = nn.Parameter(shape(input_size))
        self.weight_hh = nn.Parameter(shape(hidden_size))
        self.bias_ih = nn.Parameter(shape(1))
        self.bias_hh = nn.Parameter(shape(1))
        self.hidden_size = hidden_size

    def forward(self, steps: torch.Tensor, members: Optional[torch.Tensor] = None) -> torch.Tensor:
        """steps (m, B, L, in), member by member -> the last hidden state (m, B, H), from zeros."""
        pick = (lambda p: p) if members is None else (lambda p: p[members])  # noqa: E731
        w_ih, w_hh, b_ih, b_hh = (pick(p) for p in (self.weight_ih, self.weight_hh, self.bias_ih,
                                                   self.bias_hh))
        m, batch, length, width = steps.shape
        inputs = torch.baddbmm(b_ih, steps.reshape(m, batch * length, width), w_ih)
        inputs = inputs.reshape(m, batch, length, -1)
        h = steps.new_zeros(m, batch, self.hidden_size)
        for t in range(length):
            i_r, i_z, i_n = inputs[:, :, t].chunk(3, dim=-1)
            h_r, h_z, h_n = torch.baddbmm(b_hh, h, w_hh).chunk(3, dim=-1)
            reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            new = torch.tanh(i_n + reset * h_n)
            h = (1 - update) * new + update * h
        return h


class MetaModel(ProbabilisticEnsemble):
    """Model player `meta`: the probabilistic ensemble whose MLP also reads a GRU context of
    the observation's history window (see the module docstring)."""

    def __init__(self, history: HistoryLayout, config: Optional[MetaModelConfig] = None,
                 device: str | torch.device = "cpu", seed: int = 0, angle_dims: tuple[int, ...] = ()):
        config = config or MetaModelConfig()
        self.gru_units = config.gru_units
        super().__init__(history.augmented_dim, history.act_dim, config, device, seed, angle_dims,
                         history=history)

    def _make_encoder(self) -> nn.Module:
        assert self.history is not None
        return EnsembleGRU(self.ensemble_size, self.history.step_dim, self.gru_units)

    def _feature_dim(self) -> int:
        return super()._feature_dim() + self.gru_units

    def _features(self, x: torch.Tensor, members: Optional[torch.Tensor]) -> torch.Tensor:
        assert self.history is not None and self.encoder is not None
        context = self.encoder(self.history.window(x[..., :self.obs_dim]), members)
        return torch.cat([super()._features(x, members), context], dim=-1)


def meta_model(settings: MetaModelConfig, context: PlayerContext) -> MetaModel:
    """`run.model_player = "meta"`: the meta-model from `[meta_model]`; the task must carry a
    history in its observation."""
    task = context.task
    if task.history is None:
        raise UserInputError(f"the meta model reads the history in the observation, and task "
                             f"{task.name!r} has none: use a task with a history (a switching "
                             f"world's {history_name('NAME', HISTORY_LENGTH)}, say --task "
                             f"{history_name('halfcheetah-fwd-bwd', HISTORY_LENGTH)}) or another "
                             f"model player")
    angle_dims = tuple(task.angle_dims) if settings.wrap_angles else ()
    return MetaModel(task.history, settings, context.device, context.seed, angle_dims)
