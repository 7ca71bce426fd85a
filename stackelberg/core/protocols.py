"""The two players' interfaces. `Game` talks to players only through these methods, so a user's
own player (another model class, another policy optimiser) drops in without touching the loop.

Shapes: every tensor is batched over leading dimensions. An observation is (..., obs_dim) and
an action (..., act_dim); `act` gets single observations (obs_dim,) when the world is stepped
and batches (N, obs_dim) or (E, N, obs_dim) in model rollouts and evaluation, and must return
actions of the same leading shape. Register a player by name for the CLI and sweeps with
`stackelberg.register_policy_player` / `register_model_player`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import torch

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer


@dataclass
class FitReport:
    """What a model player's `fit` returns: the steps it took, its training loss and, if it held
    data out, its loss there (metrics.csv's `model_holdout_loss`)."""

    steps: int
    train_loss: float
    # the restored members' mean loss on held-out data (NaN when the fit holds nothing out)
    holdout_loss: float = float("nan")


@dataclass
class ImproveReport:
    """What a policy player's `improve` returns: its steps, the last step's KL, the predicted
    return of its model rollouts, and any numbers of its own (`extras`, logged as
    `policy_<name>` columns)."""

    steps: int
    kl: float  # mean KL(pi_old || pi_new) over the last step's states
    model_return: float  # mean undiscounted return of the synthetic rollouts
    extras: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class ModelPlayer(Protocol):
    """Minimises prediction error l(M, mu^pi) on real data."""

    ensemble_size: int

    def fit(self, buffer: ReplayBuffer, epochs: int, min_steps: int, max_steps: int) -> FitReport:
        """Train on the buffer; `epochs` passes, the step count clamped to [min_steps, max_steps]."""

    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Next states from every member in one call: obs (B, obs_dim) and act (B, act_dim),
        or (E, B, ...) with one batch per member -> (E, B, obs_dim)."""

    def loss(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """The model player's payoff: prediction loss of each member on (B, ...) real
        transitions, shape (E,)."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


@runtime_checkable
class PolicyPlayer(Protocol):
    """Maximises return J(pi, M) inside the model."""

    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """Actions for (..., obs_dim) observations: a single one (obs_dim,) or any batch
        (N, obs_dim), (E, N, obs_dim) -> (..., act_dim). `deterministic`: the mean action."""

    def improve(self, model: ModelPlayer, replay: ReplayBuffer, initial_states: InitialStateBuffer,
                steps: int) -> ImproveReport:
        """Take `steps` improvement steps using synthetic rollouts in `model`."""

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None:
        """Restore `state_dict()`. A player that keeps a link to the model (a planner) may also
        define `attach(model)`: the Game calls it once built and after every load, so the link
        survives a resume (it is not part of the state). A player whose resume state holds bulky
        training data may also define `acting_state_dict()`: a state that `load_state_dict`
        accepts and that acts the same, written to policy_best.pt and snapshots instead."""
