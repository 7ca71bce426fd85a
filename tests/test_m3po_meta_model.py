"""M3PO's meta-model: the batched GRU against torch's own, the training loss against a hand
computation, its gradients against finite differences, members picked as the full ensemble
computes them, and that the window reaches its prediction (unlike the Markov model's)."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.core.history import HistoryLayout, step_features
from stackelberg.m3po.meta_model import EnsembleGRU, MetaModel, MetaModelConfig
from stackelberg.models.probabilistic import ProbabilisticEnsemble, soft_bound_logvar

LAYOUT = HistoryLayout(obs_dim=2, act_dim=1, length=3)


def tiny_model(seed: int = 0) -> MetaModel:
    config = MetaModelConfig(ensemble_size=2, num_elites=2, hidden_sizes=(4,), weight_decays=(0.0, 0.0),
                             gru_units=3, logvar_bound_coef=0.0)
    return MetaModel(LAYOUT, config, seed=seed).double()


def test_ensemble_gru_equals_torch_gru_member_by_member():
    torch.manual_seed(0)
    gru = EnsembleGRU(3, 4, 5).double()
    steps = torch.randn(3, 6, 7, 4, dtype=torch.float64)
    out = gru(steps)
    for e in range(3):
        ref = nn.GRU(4, 5, batch_first=True).double()
        with torch.no_grad():
            ref.weight_ih_l0.copy_(gru.weight_ih[e].T)
            ref.weight_hh_l0.copy_(gru.weight_hh[e].T)
            ref.bias_ih_l0.copy_(gru.bias_ih[e, 0])
            ref.bias_hh_l0.copy_(gru.bias_hh[e, 0])
        _, h = ref(steps[e])
        torch.testing.assert_close(out[e], h[0])
    # a subset of members is those members' rows
    members = torch.tensor([2, 0])
    torch.testing.assert_close(gru(steps[members], members), out[members])


def hand_loss(model: MetaModel, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The NLL summed over members, by torch.nn.GRU, nn.Linear members and the formula."""
    total = torch.zeros((), dtype=torch.float64)
    d, a, n = LAYOUT.obs_dim, LAYOUT.act_dim, LAYOUT.augmented_dim
    for e in range(model.ensemble_size):
        ref = nn.GRU(LAYOUT.step_dim, 3, batch_first=True).double()
        with torch.no_grad():
            ref.weight_ih_l0.copy_(model.encoder.weight_ih[e].T)
            ref.weight_hh_l0.copy_(model.encoder.weight_hh[e].T)
            ref.bias_ih_l0.copy_(model.encoder.bias_ih[e, 0])
            ref.bias_hh_l0.copy_(model.encoder.bias_hh[e, 0])
        _, context = ref(LAYOUT.window(x[e, :, :n]))
        features = torch.cat([x[e, :, :d], x[e, :, n:n + a], context[0]], dim=-1)
        out = model.net.member(e).double()(features)
        mean, raw = out[:, :model.out_dim], out[:, model.out_dim:]
        logvar = soft_bound_logvar(raw, model.max_logvar, model.min_logvar)
        total = total + ((mean - y[e]) ** 2 * torch.exp(-logvar) + logvar).mean()
    return total


def test_training_loss_equals_the_hand_computation():
    model = tiny_model()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, LAYOUT.augmented_dim + LAYOUT.act_dim, generator=g, dtype=torch.float64)
    y = torch.randn(2, 5, 1 + LAYOUT.obs_dim, generator=g, dtype=torch.float64)
    torch.testing.assert_close(model.training_loss(x, y), hand_loss(model, x, y).detach())


def test_gradients_equal_finite_differences():
    """d loss / d (GRU and MLP weights) by autograd against central differences, in float64."""
    model = tiny_model(seed=3)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 4, LAYOUT.augmented_dim + LAYOUT.act_dim, generator=g, dtype=torch.float64)
    y = torch.randn(2, 4, 1 + LAYOUT.obs_dim, generator=g, dtype=torch.float64)
    model.zero_grad()
    model.training_loss(x, y).backward()
    eps = 1e-6
    for param in (model.encoder.weight_ih, model.encoder.weight_hh, model.encoder.bias_hh,
                  model.linear_layers()[0].weight):
        flat = param.data.view(-1)
        for i in torch.randperm(flat.numel(), generator=g)[:6].tolist():
            old = flat[i].item()
            with torch.no_grad():
                flat[i] = old + eps
                up = model.training_loss(x, y).item()
                flat[i] = old - eps
                down = model.training_loss(x, y).item()
                flat[i] = old
            assert param.grad.view(-1)[i].item() == pytest.approx((up - down) / (2 * eps), abs=1e-7, rel=1e-5)
    assert model.encoder.weight_hh.grad.abs().sum() > 0  # the history reaches the loss


def test_the_window_changes_the_prediction_and_the_step_shifts_it():
    model = tiny_model()
    g = torch.Generator().manual_seed(4)
    obs = LAYOUT.augment(torch.randn(5, 2, generator=g, dtype=torch.float64),
                         torch.randn(5, 3, LAYOUT.step_dim, generator=g, dtype=torch.float64))
    other = LAYOUT.augment(LAYOUT.observed(obs),
                           torch.randn(5, 3, LAYOUT.step_dim, generator=g, dtype=torch.float64))
    act = torch.randn(5, 1, generator=g, dtype=torch.float64)
    step, step_other = model.step(obs, act), model.step(other, act)
    assert not torch.allclose(LAYOUT.observed(step), LAYOUT.observed(step_other))
    mean, _ = model.predict(obs, act)
    torch.testing.assert_close(LAYOUT.window(step)[..., -1, :],
                               step_features(LAYOUT.observed(obs).expand(2, 5, 2), act.expand(2, 5, 1),
                                             mean[..., 0]))
    torch.testing.assert_close(LAYOUT.window(step)[..., :-1, :], LAYOUT.window(obs)[:, 1:].expand(2, 5, 2, 4))


def test_fit_learns_a_reward_only_the_window_reveals():
    """Reward r_t = d * o_t with a hidden sign d per episode, shown only by the past rewards:
    after the same fit the meta-model's held-out error is far below the Markov model's, which
    cannot do better than predicting 0 on average (the meta-model misses only each episode's
    first step, where the window is empty: 1/8 of the data)."""
    layout = HistoryLayout(obs_dim=1, act_dim=1, length=2)
    g = torch.Generator().manual_seed(0)
    replay = ReplayBuffer()
    for episode in range(60):
        d = 1.0 if episode % 2 else -1.0
        o = (torch.rand(1, generator=g) + 0.5).expand(9, 1)  # o' = o: only the reward is hard
        a = torch.zeros(8, 1)
        r = d * o[:-1, 0]
        windows, augmented = torch.zeros(2, layout.step_dim), []
        for t in range(9):
            augmented.append(layout.augment(o[t], windows))
            if t < 8:
                windows = torch.cat([windows[1:], step_features(o[t], a[t], r[t]).unsqueeze(0)])
        obs = torch.stack(augmented)
        replay.add(Trajectory(obs=obs[:-1], act=a, next_obs=obs[1:], reward=r, terminated=False))
    config = dict(ensemble_size=2, num_elites=2, hidden_sizes=(32, 32), weight_decays=(0.0,) * 3)
    meta = MetaModel(layout, MetaModelConfig(**config, gru_units=4), seed=0)
    markov = ProbabilisticEnsemble(layout.augmented_dim, 1, MetaModelConfig(**config), seed=0,
                                   history=layout)
    errors = []
    for model in (meta, markov):
        model.fit(replay, epochs=150)
        errors.append(model.holdout_mse.mean().item())
    assert errors[0] < 0.4 * errors[1], errors
