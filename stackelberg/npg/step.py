"""One natural policy gradient step: vanilla gradient, Fisher-vector products from the Hessian
of the mean KL, conjugate gradient, and the normalised step theta += sqrt(delta / g'F^-1g) F^-1 g
([P] Subroutine 1; [mjrl] npg_cg). No line search."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from stackelberg.npg.cg import conjugate_gradient
from stackelberg.core.errors import NonFiniteError
from stackelberg.npg.policy import GaussianMLPPolicy, gaussian_kl


@dataclass
class NPGStepInfo:
    kl: float  # mean KL(pi_old || pi_new) after the step
    step_size: float  # alpha (after any backtracking)
    backtracks: int  # halvings needed to respect max_kl (-1: step rejected)
    grad_norm: float
    surrogate: float


def fisher_vector_product(policy: GaussianMLPPolicy, obs: torch.Tensor,
                          damping: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """v -> (H_KL + damping I) v, the Hessian of mean_s KL(pi_old(.|s) || pi_theta(.|s)) at
    theta = theta_old, which equals the Fisher information matrix of the policy. Works for any
    policy with `forward(obs) -> (mean, log_std)`; `npg_step` prefers a policy's own closed form."""
    params = list(policy.parameters())
    with torch.no_grad():
        old_mean, old_log_std = policy(obs)
    mean, log_std = policy(obs)
    kl = gaussian_kl(old_mean, old_log_std, mean, log_std).mean()
    grad_kl = parameters_to_vector(torch.autograd.grad(kl, params, create_graph=True))

    def product(v: torch.Tensor) -> torch.Tensor:
        hv = torch.autograd.grad(grad_kl @ v, params, retain_graph=True)
        return parameters_to_vector(hv) + damping * v

    return product


def npg_step(policy: GaussianMLPPolicy, obs: torch.Tensor, act: torch.Tensor, adv: torch.Tensor,
             delta: float, cg_iters: int, cg_damping: float, entropy_coef: float = 0.0,
             fvp_sample_fraction: float = 1.0, max_kl: Optional[float] = None,
             max_backtracks: int = 10,
             generator: Optional[torch.Generator] = None) -> NPGStepInfo:
    """Update `policy` in place from (obs, act, advantage) samples.

    The normalised step aims at KL = delta / 2 under the quadratic model of the KL. Far from
    that model (noise-only gradients push into low-curvature directions) the true KL can be
    10-20x larger; `max_kl` halves the step until the measured KL is below it ([mjrl] has no
    such check: max_kl=None reproduces it)."""
    params = list(policy.parameters())
    surrogate = (policy.log_prob(obs, act) * adv).mean()
    if entropy_coef:
        surrogate = surrogate + entropy_coef * policy.entropy()
    grad = parameters_to_vector(torch.autograd.grad(surrogate, params))
    fvp_obs = obs
    if fvp_sample_fraction < 1.0:
        count = max(1, int(fvp_sample_fraction * obs.shape[0]))
        fvp_obs = obs[torch.randperm(obs.shape[0], generator=generator)[:count].to(obs.device)]
    closed_form = getattr(policy, "fisher_vector_product", None)
    fvp = closed_form(fvp_obs, cg_damping) if closed_form else \
        fisher_vector_product(policy, fvp_obs, cg_damping)
    direction = conjugate_gradient(fvp, grad, iters=cg_iters, x0=grad)
    alpha = torch.sqrt(torch.abs(delta / (grad @ direction + 1e-10)))
    old = parameters_to_vector(params).detach()
    if not torch.isfinite(old + alpha * direction).all():
        raise NonFiniteError(
            "the NPG step produced NaN/inf policy parameters; lower npg.delta or raise "
            "npg.cg_damping")
    with torch.no_grad():
        old_mean, old_log_std = policy(obs)

        def try_step(scale: torch.Tensor) -> float:
            vector_to_parameters(old + scale * direction, params)
            policy.clamp_log_std()
            mean, log_std = policy(obs)
            return gaussian_kl(old_mean, old_log_std, mean, log_std).mean().item()

        kl, backtracks = try_step(alpha), 0
        while max_kl is not None and kl > max_kl:
            if backtracks == max_backtracks:
                vector_to_parameters(old, params)  # reject: no acceptable step along this line
                kl, backtracks, alpha = 0.0, -1, torch.zeros_like(alpha)
                break
            alpha, backtracks = alpha / 2, backtracks + 1
            kl = try_step(alpha)
    return NPGStepInfo(kl=kl, step_size=alpha.item(), backtracks=backtracks,
                       grad_norm=grad.norm().item(), surrogate=surrogate.item())
