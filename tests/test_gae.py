"""GAE and returns against a plain per-path Python loop."""
import torch

from stackelberg.npg.gae import discounted_returns, gae_advantages


def brute_force(rewards, values, length, terminated, gamma, lam):
    r, v = rewards[:length].tolist(), values[:length].tolist()
    v_next = v[1:] + [0.0 if terminated else v[-1]]
    deltas = [r[t] + gamma * v_next[t] - v[t] for t in range(length)]
    adv = [sum((gamma * lam) ** l * deltas[t + l] for l in range(length - t)) for t in range(length)]
    ret = [sum(gamma ** l * r[t + l] for l in range(length - t)) for t in range(length)]
    return adv, ret


def test_gae_and_returns_match_brute_force_on_ragged_paths():
    gen = torch.Generator().manual_seed(3)
    n, horizon, gamma, lam = 6, 9, 0.97, 0.9
    rewards = torch.randn(n, horizon, generator=gen, dtype=torch.float64)
    values = torch.randn(n, horizon, generator=gen, dtype=torch.float64)
    lengths = torch.tensor([9, 1, 5, 9, 3, 7])
    terminated = torch.tensor([False, True, True, False, False, True])
    mask = torch.arange(horizon)[None, :] < lengths[:, None]
    # garbage beyond each path's end must not leak in
    rewards = torch.where(mask, rewards, torch.full_like(rewards, 1e6))
    adv = gae_advantages(rewards, values, mask, terminated, gamma, lam)
    ret = discounted_returns(rewards, mask, gamma)
    for i in range(n):
        exp_adv, exp_ret = brute_force(rewards[i], values[i], int(lengths[i]), bool(terminated[i]), gamma, lam)
        L = int(lengths[i])
        torch.testing.assert_close(adv[i, :L], torch.tensor(exp_adv, dtype=torch.float64))
        torch.testing.assert_close(ret[i, :L], torch.tensor(exp_ret, dtype=torch.float64))
        assert (adv[i, L:] == 0).all() and (ret[i, L:] == 0).all()


def test_lambda_one_gives_returns_minus_values_for_terminated_paths():
    rewards = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    values = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    mask = torch.ones(1, 3, dtype=torch.bool)
    adv = gae_advantages(rewards, values, mask, torch.tensor([True]), 0.9, 1.0)
    ret = discounted_returns(rewards, mask, 0.9)
    torch.testing.assert_close(adv, ret - values)
