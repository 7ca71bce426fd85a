"""Conjugate gradient, the Fisher-vector product and the size of one NPG step."""
import math

import pytest
import torch
from torch.nn.utils import parameters_to_vector

from stackelberg.npg.cg import conjugate_gradient
from stackelberg.npg.step import fisher_vector_product, npg_step
from stackelberg.npg.policy import GaussianMLPPolicy, gaussian_kl


def test_conjugate_gradient_matches_direct_solve():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(12, 12, generator=gen, dtype=torch.float64)
    spd = a @ a.T + 0.5 * torch.eye(12, dtype=torch.float64)
    b = torch.randn(12, generator=gen, dtype=torch.float64)
    expected = torch.linalg.solve(spd, b)
    for x0 in (None, b):
        x = conjugate_gradient(lambda v: spd @ v, b, iters=60, x0=x0, residual_tol=1e-20)
        torch.testing.assert_close(x, expected)


def _explicit_fisher(policy: GaussianMLPPolicy, obs: torch.Tensor) -> torch.Tensor:
    """E_s[J_mu^T diag(1/sigma^2) J_mu] + 2 J_logstd^T J_logstd, formed entry by entry."""
    names = [k for k, _ in policy.named_parameters()]
    params = [p.detach() for p in policy.parameters()]
    theta = parameters_to_vector(params)

    def unflat(th):
        out, i = {}, 0
        for k, p in zip(names, params):
            out[k] = th[i:i + p.numel()].view(p.shape)
            i += p.numel()
        return out

    mean_of = lambda th: torch.func.functional_call(policy, (unflat(th),), (obs,))[0]
    jac_mean = torch.autograd.functional.jacobian(mean_of, theta)  # (B, A, P)
    jac_log_std = torch.autograd.functional.jacobian(lambda th: unflat(th)["log_std"], theta)
    inv_var = torch.exp(-2 * policy.log_std.detach())
    fisher = torch.einsum("bip,i,biq->pq", jac_mean, inv_var, jac_mean) / obs.shape[0]
    return fisher + 2 * jac_log_std.T @ jac_log_std


def test_fisher_vector_product_equals_explicit_fisher_matrix():
    policy = GaussianMLPPolicy(3, 2, (5,), init_log_std=-0.4).double()
    obs = torch.randn(11, 3, dtype=torch.float64)
    fisher = _explicit_fisher(policy, obs)
    damping = 0.1
    for fvp in (fisher_vector_product(policy, obs, damping),  # generic: Hessian of the KL
                policy.fisher_vector_product(obs, damping)):  # closed form
        for _ in range(3):
            v = torch.randn(fisher.shape[0], dtype=torch.float64)
            torch.testing.assert_close(fvp(v), fisher @ v + damping * v)


@pytest.mark.parametrize("delta", [0.01, 0.05])
def test_npg_step_moves_kl_to_half_delta(delta):
    """mjrl's normalised step: delta is twice the quadratic-model KL, so KL(old||new) ~ delta/2."""
    policy = GaussianMLPPolicy(4, 2, (16, 16), init_log_std=-0.5).double()
    obs = torch.randn(2000, 4, dtype=torch.float64)
    with torch.no_grad():
        act = policy.sample(obs)
    adv = torch.randn(2000, dtype=torch.float64)
    adv = adv + 2 * act[:, 0]  # a real signal: favour larger first action
    with torch.no_grad():
        old_mean, old_log_std = policy(obs)
    info = npg_step(policy, obs, act, adv, delta=delta, cg_iters=25, cg_damping=1e-3)
    with torch.no_grad():
        mean, log_std = policy(obs)
        kl = gaussian_kl(old_mean, old_log_std, mean, log_std).mean().item()
    assert kl == pytest.approx(info.kl)
    assert kl == pytest.approx(delta / 2, rel=0.15)
    assert math.isfinite(info.step_size) and info.step_size > 0


def test_npg_step_increases_surrogate_and_keeps_log_std_in_bounds():
    policy = GaussianMLPPolicy(2, 1, (8,), init_log_std=-2.45, min_log_std=-2.5).double()
    obs = torch.randn(500, 2, dtype=torch.float64)
    with torch.no_grad():
        act = policy.sample(obs)
    adv = -(act[:, 0] - policy(obs)[0][:, 0]).abs()  # reward staying close to the mean
    adv = (adv - adv.mean()) / adv.std()
    before = (policy.log_prob(obs, act) * adv).mean().item()
    npg_step(policy, obs, act, adv, delta=0.05, cg_iters=25, cg_damping=1e-4)
    after = (policy.log_prob(obs, act) * adv).mean().item()
    assert after > before
    assert policy.log_std.min().item() >= -2.5


def test_max_kl_backtracks_a_step_that_overshoots():
    """Noise-only advantages on many samples: the plain step's true KL exceeds the limit."""
    torch.manual_seed(0)
    obs = torch.randn(20000, 4) * 0.05
    results = {}
    for limit in (None, 0.05):
        torch.manual_seed(0)
        policy = GaussianMLPPolicy(4, 1, (64, 64), init_log_std=-1)
        with torch.no_grad():
            act = policy.sample(obs)
        adv = torch.randn(20000)
        kls = [npg_step(policy, obs, act, (adv - adv.mean()) / adv.std(), 0.05, 25, 1e-3,
                        max_kl=limit) for _ in range(4)]
        results[limit] = kls
    assert max(i.kl for i in results[None]) > 0.05  # the failure the guard exists for
    assert all(i.kl <= 0.05 for i in results[0.05])
    assert any(i.backtracks > 0 for i in results[0.05])


def _gaussian_entropy_by_quadrature(log_std: torch.Tensor) -> torch.Tensor:
    """-integral p log p of a diagonal Gaussian, dimension by dimension on a fine grid."""
    total = torch.zeros((), dtype=torch.float64)
    for s in torch.exp(log_std.double()):
        x = torch.linspace(-12 * s.item(), 12 * s.item(), 200_001, dtype=torch.float64)
        p = torch.exp(-0.5 * (x / s) ** 2) / (s * math.sqrt(2 * math.pi))
        total = total - torch.trapezoid(p * torch.log(p.clamp_min(1e-300)), x)
    return total


def test_entropy_and_its_gradient_match_brute_force():
    policy = GaussianMLPPolicy(3, 2, (8,), init_log_std=-0.7).double()
    with torch.no_grad():
        policy.log_std.copy_(torch.tensor([-0.7, 0.3], dtype=torch.float64))
    torch.testing.assert_close(policy.entropy(), _gaussian_entropy_by_quadrature(policy.log_std.detach()))
    grad = torch.autograd.grad(policy.entropy(), policy.log_std)[0]
    eps = 1e-4
    for i in range(2):
        up, down = policy.log_std.detach().clone(), policy.log_std.detach().clone()
        up[i] += eps; down[i] -= eps
        numeric = (_gaussian_entropy_by_quadrature(up) - _gaussian_entropy_by_quadrature(down)) / (2 * eps)
        torch.testing.assert_close(grad[i], numeric, atol=1e-6, rtol=1e-5)


def test_entropy_term_alone_widens_every_action_dim_equally_and_leaves_the_mean():
    """With zero advantages the surrogate is entropy_coef * H: its gradient is entropy_coef on
    each log-std and 0 on the mean network, and the natural step (Fisher block 2I on log-std)
    raises every log-std by the same amount."""
    policy = GaussianMLPPolicy(4, 3, (16,), init_log_std=-1.0).double()
    obs = torch.randn(64, 4, dtype=torch.float64)
    act = policy.sample(obs)
    mean_before = [p.detach().clone() for p in policy.mean_net.parameters()]
    npg_step(policy, obs, act, torch.zeros(64, dtype=torch.float64), delta=0.01, cg_iters=10,
             cg_damping=1e-6, entropy_coef=0.1)
    change = policy.log_std.detach() + 1.0
    assert (change > 0).all()
    torch.testing.assert_close(change, change[:1].expand(3))
    # KL of a pure log-std step of size c per dim is sum (e^{2c} - 1)/2 e^{-2c}... = delta/2 to 2nd order
    assert abs(3 * change[0].item() ** 2 - 0.01 / 2) < 2e-4
    for before, after in zip(mean_before, policy.mean_net.parameters()):
        torch.testing.assert_close(before, after.detach())
