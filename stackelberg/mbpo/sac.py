"""Soft actor-critic (Haarnoja et al. 2018) with the settings MBPO uses (softlearning; algorithms
sheet 4.3): a tanh-squashed Gaussian actor, twin critics with Polyak-averaged targets, and a
learned temperature that holds the policy's entropy near a target.

Actions live in [-1, 1]^act_dim here; the caller maps them to the task's bounds. That keeps the
target entropy meaningful across tasks (MBPO's per-task targets assume normalised actions).
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional, Sequence

import torch
from torch import nn

from stackelberg.models.ensemble import EnsembleMLP
from stackelberg.core.networks import mlp, seeded

_LOG2 = math.log(2.0)


def tanh_log_prob(u: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """log-density of a = tanh(u), u ~ N(mean, exp(log_std)^2), summed over action dims.
    The change of variables subtracts log(1 - tanh(u)^2), written as 2 (log 2 - u - softplus(-2u))
    so it stays finite where tanh saturates."""
    z = (u - mean) * torch.exp(-log_std)
    gaussian = (-0.5 * z ** 2 - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
    return gaussian - (2.0 * (_LOG2 - u - nn.functional.softplus(-2.0 * u))).sum(-1)


def gaussian_kl(old_mean: torch.Tensor, old_log_std: torch.Tensor, mean: torch.Tensor,
                log_std: torch.Tensor) -> torch.Tensor:
    """KL(old || new) of diagonal Gaussians, summed over the last dim. The same for the squashed
    policies: tanh is a bijection."""
    return (log_std - old_log_std + (torch.exp(2 * old_log_std) + (old_mean - mean) ** 2)
            / (2 * torch.exp(2 * log_std)) - 0.5).sum(-1)


class TanhGaussianActor(nn.Module):
    """pi(a|s) = tanh(N(mu(s), sigma(s)^2)); an MLP outputs mu and log sigma (clipped)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (256, 256),
                 log_std_min: float = -20.0, log_std_max: float = 2.0):
        super().__init__()
        self.net = mlp(obs_dim, 2 * act_dim, hidden_sizes)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(obs).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def rsample(self, obs: torch.Tensor, generator: Optional[torch.Generator] = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Reparameterised action in (-1, 1) and its log-probability (differentiable)."""
        mean, log_std = self(obs)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        u = mean + noise * torch.exp(log_std)
        return torch.tanh(u), tanh_log_prob(u, mean, log_std)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, generator: Optional[torch.Generator] = None,
            deterministic: bool = False) -> torch.Tensor:
        if deterministic:
            return torch.tanh(self(obs)[0])
        return self.rsample(obs, generator)[0]


class TwinQ(nn.Module):
    """Two critics Q_1, Q_2 as one 2-member ensemble: both run in a single batched pass."""

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (256, 256)):
        super().__init__()
        self.net = EnsembleMLP(2, obs_dim + act_dim, 1, hidden_sizes)

    def forward(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
        """(B, .) -> (2, B)."""
        x = torch.cat([obs, act], dim=-1)
        return self.net(x.unsqueeze(0).expand(2, *x.shape)).squeeze(-1)


class SAC(nn.Module):
    """One `update` = a critic step, an actor step, a temperature step, a target update.

    The steps run in that order, each seeing the previous one's result (the usual PyTorch
    formulation; softlearning computes all three losses from the same parameters).
    """

    def __init__(self, obs_dim: int, act_dim: int, hidden_sizes: Sequence[int] = (256, 256),
                 lr: float = 3e-4, gamma: float = 0.99, tau: float = 5e-3,
                 target_entropy: Optional[float] = None, init_log_alpha: float = 0.0,
                 log_std_min: float = -20.0, log_std_max: float = 2.0,
                 device: str | torch.device = "cpu", seed: int = 0):
        super().__init__()
        with seeded(seed):
            self.actor = TanhGaussianActor(obs_dim, act_dim, hidden_sizes, log_std_min, log_std_max)
            self.q = TwinQ(obs_dim, act_dim, hidden_sizes)
            self.q_target = TwinQ(obs_dim, act_dim, hidden_sizes)
        self.q_target.load_state_dict(self.q.state_dict())
        self.q_target.requires_grad_(False)
        self.log_alpha = nn.Parameter(torch.tensor(float(init_log_alpha)))
        self.gamma, self.tau = gamma, tau
        # SAC's default target is -|A|; MBPO sets its own per task
        self.target_entropy = float(-act_dim if target_entropy is None else target_entropy)
        self.device = torch.device(device)
        self.to(self.device)
        self.actor_optimizer = torch.optim.Adam(self.actor.parameters(), lr=lr, fused=True)
        self.q_optimizer = torch.optim.Adam(self.q.parameters(), lr=lr, fused=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=lr)
        self.generator = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.updates = 0

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.detach().exp()

    def critic_loss(self, obs, act, reward, next_obs, done) -> torch.Tensor:
        """0.5 MSE to r + gamma (1 - d) (min_j Qbar_j(s', a') - alpha log pi(a'|s')), a' ~ pi(s'),
        summed over the two critics."""
        with torch.no_grad():
            next_act, next_logp = self.actor.rsample(next_obs, self.generator)
            next_v = self.q_target(next_obs, next_act).min(0).values - self.alpha * next_logp
            target = reward + self.gamma * (1.0 - done.float()) * next_v
        return 0.5 * ((self.q(obs, act) - target) ** 2).mean(1).sum()

    def actor_loss(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mean(alpha log pi(a~|s) - min_j Q_j(s, a~)), reparameterised; also log pi (detached)."""
        act, logp = self.actor.rsample(obs, self.generator)
        self.q.requires_grad_(False)  # the actor step must not leave gradients in the critics
        try:
            q = self.q(obs, act).min(0).values
        finally:
            self.q.requires_grad_(True)
        return (self.alpha * logp - q).mean(), logp.detach()

    def temperature_loss(self, logp: torch.Tensor) -> torch.Tensor:
        """-log alpha * (log pi + H_target): raises alpha when the entropy -log pi is below the
        target, lowers it when above (softlearning differentiates w.r.t. log alpha)."""
        return -(self.log_alpha * (logp + self.target_entropy)).mean()

    @torch.no_grad()
    def update_targets(self) -> None:
        """Qbar <- tau Q + (1 - tau) Qbar."""
        for target, source in zip(self.q_target.parameters(), self.q.parameters()):
            target.lerp_(source, self.tau)

    def update(self, obs: torch.Tensor, act: torch.Tensor, reward: torch.Tensor,
               next_obs: torch.Tensor, done: torch.Tensor) -> dict[str, torch.Tensor]:
        """One SAC step on a batch (actions in [-1, 1]). Returns detached losses and stats."""
        q_loss = self.critic_loss(obs, act, reward, next_obs, done)
        self.q_optimizer.zero_grad(set_to_none=True)
        q_loss.backward()
        self.q_optimizer.step()

        actor_loss, logp = self.actor_loss(obs)
        self.actor_optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_optimizer.step()

        alpha_loss = self.temperature_loss(logp)
        self.alpha_optimizer.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_optimizer.step()

        self.update_targets()
        self.updates += 1
        return {"q_loss": q_loss.detach(), "actor_loss": actor_loss.detach(),
                "alpha_loss": alpha_loss.detach(), "entropy": -logp.mean(), "alpha": self.alpha}

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """torch's module state under "module", with the three optimizers, the generator and the
        update count."""
        return {"module": super().state_dict(*args, **kwargs),
                "actor_optimizer": self.actor_optimizer.state_dict(),
                "q_optimizer": self.q_optimizer.state_dict(),
                "alpha_optimizer": self.alpha_optimizer.state_dict(),
                "generator": self.generator.get_state(), "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> None:
        super().load_state_dict(state["module"], strict=strict, assign=assign)
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.q_optimizer.load_state_dict(state["q_optimizer"])
        self.alpha_optimizer.load_state_dict(state["alpha_optimizer"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])
