"""MBPO's model player: an ensemble of probabilistic networks, each predicting a diagonal
Gaussian over [reward, s' - s] (algorithms sheet 4.4; Chua et al. 2018's PETS model as used by
Janner et al. 2019). Members are batched (one `baddbmm` per layer for all of them).

Why each piece is there:
- mean and log-variance, Gaussian NLL: rollouts sample next states, so the model must say how
  unsure it is (aleatoric noise), not only where the state goes;
- soft log-variance bounds with trainable limits: keep the variance away from 0 and infinity
  on inputs far from the data, where the raw output is arbitrary;
- bootstrap resamples and a random elite per sample: the spread between members stands in for
  epistemic uncertainty; dropping the worst two members (elites) keeps bad fits out of rollouts;
- holdout early stopping with per-member snapshots: no epoch count to tune as the data grows.

On a task whose observation carries its history (`Task.history`) the ensemble is Markov: it
reads o_t and a_t only, predicts [reward, o_{t+1} - o_t] and shifts the window with the step it
predicted (`HistoryLayout.shift`), so its rollouts from real histories continue them (M3PO's
M2PO). A subclass may add features of its own (`_make_encoder`, `_features`: M3PO's meta-model
reads the window through a GRU).
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import torch
from torch import nn

from stackelberg.core.history import HistoryLayout
from stackelberg.models.angles import apply_change, state_change
from stackelberg.core.networks import seeded
from stackelberg.models.base import EnsembleModel
from stackelberg.core.buffers import ReplayBuffer
from stackelberg.models.ensemble import EnsembleLinear, EnsembleMLP
from stackelberg.models.early_stopping import MemberEarlyStopping
from stackelberg.core.knobs import check_settings
from stackelberg.core.errors import NonFiniteError
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.core.protocols import FitReport
from stackelberg.core.registry import PlayerContext


__all__ = ["ProbabilisticEnsemble", "ProbabilisticModelConfig", "gaussian_nll", "soft_bound_logvar"]


_ACTIVATIONS: dict[str, type[nn.Module]] = {"swish": nn.SiLU, "relu": nn.ReLU}


def soft_bound_logvar(raw: torch.Tensor, max_logvar: torch.Tensor,
                      min_logvar: torch.Tensor) -> torch.Tensor:
    """Smoothly squash raw log-variances below `max_logvar` and above `min_logvar` (gradients
    still flow to the bounds, which are learned)."""
    logvar = max_logvar - nn.functional.softplus(max_logvar - raw)
    return min_logvar + nn.functional.softplus(logvar - min_logvar)


def gaussian_nll(mean: torch.Tensor, logvar: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-member Gaussian NLL without the 1/2 and the constant: mean over batch and dims of
    (mu - y)^2 exp(-logvar) + logvar. (E, B, D) -> (E,)."""
    return ((mean - target) ** 2 * torch.exp(-logvar) + logvar).mean(dim=(1, 2))


class ProbabilisticEnsemble(EnsembleModel):
    """Model player. Outputs are [reward, s' - s]: the reward head is always trained (the MBPO
    player can use it, `learned_reward=True`), and the state is predicted as a change.

    `fit` trains until holdout early stopping (see `fit`); `step` gives every member's mean next
    state (deterministic, for J(pi, M) and diagnostics); `sample` gives a Gaussian sample from a
    uniformly random elite per transition (for MBPO's branched rollouts).
    """

    # registered buffers: the input scaler, the elite members and each member's holdout error
    input_mean: torch.Tensor
    input_std: torch.Tensor
    elites: torch.Tensor
    holdout_mse: torch.Tensor

    def __init__(self, obs_dim: int, act_dim: int, config: Optional[ProbabilisticModelConfig] = None,
                 device: str | torch.device = "cpu", seed: int = 0, angle_dims: Sequence[int] = (),
                 history: Optional[HistoryLayout] = None):
        super().__init__()
        self.config = config or ProbabilisticModelConfig()
        check_settings("probabilistic_model", self.config)
        cfg = self.config
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.ensemble_size = cfg.ensemble_size
        self.history = history
        # the part of the observation it predicts (a history's window is shifted, not predicted)
        self.observed_dim = history.obs_dim if history is not None else obs_dim
        self.out_dim = 1 + self.observed_dim  # [reward, delta state]
        with seeded(seed):
            self.encoder = self._make_encoder()
            self.net = EnsembleMLP(cfg.ensemble_size, self._feature_dim(), 2 * self.out_dim,
                                   cfg.hidden_sizes, activation=_ACTIVATIONS[cfg.activation])
            for layer in self.linear_layers():
                # truncated normal (at 2 std) with std 1 / (2 sqrt(fan_in)), zero biases (official)
                std = 1.0 / (2.0 * math.sqrt(layer.weight.shape[1]))
                nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std)
                nn.init.zeros_(layer.bias)
        # shared by all members, one bound per output dimension (official shapes)
        self.max_logvar = nn.Parameter(torch.full((self.out_dim,), cfg.init_max_logvar))
        self.min_logvar = nn.Parameter(torch.full((self.out_dim,), cfg.init_min_logvar))
        self.register_buffer("input_mean", torch.zeros(obs_dim + act_dim))
        self.register_buffer("input_std", torch.ones(obs_dim + act_dim))
        self.register_buffer("elites", torch.arange(cfg.num_elites))
        self.register_buffer("holdout_mse", torch.full((cfg.ensemble_size,), float("nan")))
        self.device = torch.device(device)
        self.to(self.device)
        self._set_angles(self.observed_dim, angle_dims)
        self.optimizer = torch.optim.Adam(self.parameters(), lr=cfg.lr, fused=True)
        self.generator = torch.Generator().manual_seed(seed + 1)  # holdout split, bootstrap, order

    def linear_layers(self) -> list[EnsembleLinear]:
        return [m for m in self.net.net if isinstance(m, EnsembleLinear)]

    # --- what a subclass may add -----------------------------------------------------------
    def _make_encoder(self) -> Optional[nn.Module]:
        """A module of the subclass's own features (built seeded, before the MLP)."""
        return None

    def _feature_dim(self) -> int:
        return self.observed_dim + self.act_dim

    def _features(self, x: torch.Tensor, members: Optional[torch.Tensor]) -> torch.Tensor:
        """The MLP's input from normalised [obs, act] (m, B, in): all of it, or [o_t, a_t]
        where the observation carries a history."""
        if self.history is None:
            return x
        return torch.cat([x[..., :self.observed_dim], x[..., self.obs_dim:]], dim=-1)

    def _observed(self, obs: torch.Tensor) -> torch.Tensor:
        return obs[..., :self.observed_dim]

    def _next_obs(self, obs: torch.Tensor, act: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """The next observation from a prediction of [reward, change] (..., out_dim)."""
        next_obs = apply_change(self._observed(obs), out[..., 1:], self._wrapped)
        if self.history is None:
            return next_obs
        return self.history.shift(obs, act, out[..., 0], next_obs)

    # --- forward ---------------------------------------------------------------------------
    def _normalize(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        return (torch.cat([obs, act], dim=-1) - self.input_mean) / self.input_std

    def _forward(self, x: torch.Tensor, members: Optional[torch.Tensor] = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised inputs (m, B, in) -> mean, soft-bounded log-variance (m, B, out), for all
        members (m = E) or the listed ones."""
        h = self._features(x, members)
        for layer in self.net.net:
            if isinstance(layer, EnsembleLinear) and members is not None:
                h = torch.baddbmm(layer.bias[members], h, layer.weight[members])
            else:
                h = layer(h)
        mean, raw = h[..., :self.out_dim], h[..., self.out_dim:]
        return mean, soft_bound_logvar(raw, self.max_logvar, self.min_logvar)

    @torch.no_grad()
    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """Mean next state of every member: (B, d) inputs go to all members, (E, B, d) member
        by member -> (E, B, d)."""
        obs, act = self._expand(obs.to(self.device)), self._expand(act.to(self.device))
        mean, _ = self._forward(self._normalize(obs, act))
        return self._next_obs(obs, act, mean)

    @torch.no_grad()
    def predict(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's Gaussian over [reward, s' - s]: mean and log-variance, (E, B, 1 + d)."""
        obs, act = self._expand(obs.to(self.device)), self._expand(act.to(self.device))
        return self._forward(self._normalize(obs, act))

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, act: torch.Tensor, generator: torch.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d) -> next_obs (B, d), reward (B,): for each transition a uniformly random elite
        and a draw from its Gaussian. Only the chosen member is evaluated per transition (rows
        are grouped by member and padded), so this costs about one member's forward pass."""
        return self.rsample(obs, act, generator)

    def rsample(self, obs: torch.Tensor, act: torch.Tensor, generator: torch.Generator
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """`sample`, differentiable: the draw is mean + noise * std with the noise fixed, so
        gradients flow from next_obs and reward to obs, act and the model's parameters (the
        reparameterised sample an SVG-style actor such as MEMB's differentiates through)."""
        obs, act = obs.to(self.device), act.to(self.device)
        n, elites = obs.shape[0], self.elites
        choice = torch.randint(0, elites.numel(), (n,), generator=generator).to(self.device)
        order = torch.argsort(choice, stable=True)
        sorted_choice = choice[order]
        counts = torch.bincount(choice, minlength=elites.numel())
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.arange(n, device=self.device) - starts[sorted_choice]
        x = self._normalize(obs, act)[order]
        grouped = x.new_zeros(elites.numel(), int(counts.max()) if n else 0, x.shape[-1])
        grouped[sorted_choice, slot] = x
        mean, logvar = self._forward(grouped, members=elites)
        mean, logvar = mean[sorted_choice, slot], logvar[sorted_choice, slot]
        noise = torch.randn(mean.shape, generator=generator, device=generator.device).to(self.device)
        out = torch.empty_like(mean)
        out[order] = mean + noise * torch.exp(0.5 * logvar)
        return self._next_obs(obs, act, out), out[:, 0]

    @torch.no_grad()
    def loss(self, obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        """The model player's payoff: per-member MSE of the mean next-state prediction (raw
        state units; the reward head is not scored here), shape (E,)."""
        next_obs = next_obs.to(self.device)
        predicted = self._observed(self.step(obs, act))
        error = state_change(self._observed(next_obs), predicted, self._wrapped)
        return (error ** 2).mean(dim=(1, 2))

    # --- training --------------------------------------------------------------------------
    def set_statistics(self, inputs: torch.Tensor) -> None:
        """Standard scaler on the training inputs; a near-constant input keeps scale 1."""
        std = inputs.std(0, unbiased=False)
        self.input_mean.copy_(inputs.mean(0))
        self.input_std.copy_(torch.where(std < 1e-12, torch.ones_like(std), std))

    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Normalised inputs and targets of shape (E, B, .) -> the scalar MBPO minimises: NLL
        summed over members + per-layer weight decay + the bound regulariser."""
        cfg = self.config
        mean, logvar = self._forward(x)
        loss = gaussian_nll(mean, logvar, y).sum()
        for decay, layer in zip(cfg.weight_decays, self.linear_layers()):
            loss = loss + decay * 0.5 * (layer.weight ** 2).sum()
        return loss + cfg.logvar_bound_coef * (self.max_logvar.sum() - self.min_logvar.sum())

    @torch.no_grad()
    def member_mse(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Per-member MSE of the mean over all targets (reward and delta): the early-stopping
        and elite criterion, as in the official code (not the NLL)."""
        mean, _ = self._forward(self._expand(x))
        return ((mean - y) ** 2).mean(dim=(1, 2))

    def fit(self, buffer: ReplayBuffer, epochs: int, min_steps: int = 0,
            max_steps: int = 10**9) -> FitReport:
        """Continue training on the whole buffer (the model is not reset between calls).

        A fresh holdout (20 %, at most 5000) is drawn and the input scaler refit on the rest.
        After every epoch each member's holdout MSE is compared with its best of this call; a
        member that improved by more than 1 % is snapshotted. Training stops once no member has
        improved for more than `patience` epochs, then every member is restored to its own best
        snapshot and the elites are the members with the lowest holdout MSE.

        MBPO has no epoch limit; here `epochs` is an upper bound on epochs (set it large to
        reproduce MBPO), `max_steps` caps the gradient steps (checked at epoch ends), and early
        stopping may not end training before `min_steps` gradient steps.
        """
        cfg = self.config
        data = buffer.tensors()
        obs, act, next_obs = data["obs"], data["act"], data["next_obs"]
        inputs = torch.cat([obs, act], -1).to(self.device)
        change = state_change(self._observed(obs), self._observed(next_obs), self._wrapped)
        targets = torch.cat([data["reward"].unsqueeze(-1), change], -1).to(self.device)
        n = inputs.shape[0]
        if n < 2:
            raise ValueError(f"the probabilistic model needs at least 2 transitions to fit, got {n}")
        n_hold = min(int(n * cfg.holdout_ratio), cfg.max_holdout)
        perm = torch.randperm(n, generator=self.generator).to(self.device)
        hold_in, hold_out = inputs[perm[:n_hold]], targets[perm[:n_hold]]
        train_in, train_out = inputs[perm[n_hold:]], targets[perm[n_hold:]]
        if n_hold == 0:  # too little data to hold any out: stop on the training error
            hold_in, hold_out = train_in, train_out
        self.set_statistics(train_in)
        train_x = (train_in - self.input_mean) / self.input_std
        hold_x = (hold_in - self.input_mean) / self.input_std
        n_train, members = train_x.shape[0], self.ensemble_size
        if cfg.bootstrap:
            rows = torch.randint(0, n_train, (members, n_train), generator=self.generator)
        else:
            rows = torch.arange(n_train).expand(members, n_train).clone()
        batches = math.ceil(n_train / cfg.batch_size)

        stopper = MemberEarlyStopping(self.member_parameters(), cfg.improvement_threshold, cfg.patience)
        steps = 0
        for _ in range(epochs):
            idx = rows.to(self.device)
            for b in range(batches):
                batch = idx[:, b * cfg.batch_size:(b + 1) * cfg.batch_size]
                loss = self.training_loss(train_x[batch], train_out[batch])
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer.step()
            steps += batches
            # reshuffle each member's resample for the next epoch
            rows = torch.gather(rows, 1, torch.argsort(torch.rand(rows.shape, generator=self.generator), 1))
            current = self.member_mse(hold_x, hold_out)
            if not torch.isfinite(current).all():
                raise NonFiniteError("the probabilistic model's holdout error is not finite; lower "
                                     "the model's lr or check the observations for NaN/inf")
            if (stopper.update(current) and steps >= min_steps) or steps >= max_steps:
                break
        stopper.restore()
        final = self.member_mse(hold_x, hold_out)
        self.holdout_mse.copy_(final)
        self.elites.copy_(torch.argsort(final)[:cfg.num_elites])
        elite_mse = final[self.elites].mean().item()
        # with too little data to hold any out, `final` is a training error, not a held-out one
        return FitReport(steps=steps, train_loss=elite_mse,
                         holdout_loss=elite_mse if n_hold else float("nan"))

    def train_step(self, obs: torch.Tensor, act: torch.Tensor, reward: torch.Tensor,
                   next_obs: torch.Tensor) -> torch.Tensor:
        """One Adam step of `training_loss` on one minibatch of real transitions (every member
        on the same batch, inputs scaled as the last `fit` left them: raw if none ran), for a
        policy player that trains the model as it goes (MEMB's per-step model step); the
        loss before the step."""
        obs, next_obs = obs.to(self.device), next_obs.to(self.device)
        x = self._expand(self._normalize(obs, act.to(self.device)))
        y = self._expand(torch.cat([reward.to(self.device).unsqueeze(-1),
                                    state_change(self._observed(obs), self._observed(next_obs),
                                                 self._wrapped)], -1))
        loss = self.training_loss(x, y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def member_parameters(self) -> list[torch.Tensor]:
        """Parameters with a leading member dimension (weights and biases); the shared
        log-variance bounds are not per member and are not snapshotted (as in the official code).
        A subclass's encoder has a leading member dimension on every parameter too."""
        encoder: list[torch.Tensor] = [*self.encoder.parameters()] if self.encoder is not None else []
        return [p for layer in self.linear_layers() for p in (layer.weight, layer.bias)] + encoder


def probabilistic_model(settings: ProbabilisticModelConfig, context: PlayerContext
                        ) -> ProbabilisticEnsemble:
    """`run.model_player = "probabilistic"`: MBPO's ensemble from `[probabilistic_model]`."""
    task = context.task
    angle_dims = task.angle_dims if settings.wrap_angles else ()
    return ProbabilisticEnsemble(task.obs_dim, task.act_dim, settings, context.device,
                                 context.seed, angle_dims=angle_dims, history=task.history)
