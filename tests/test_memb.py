"""MEMB: the probabilistic ensemble's reparameterised sample, the actor's gradient through the
model and V, which data trains Q and V, the losses on hand-computed values, the ablations, and
`--policy memb` through run, resume, report and render."""
import csv
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg.cli import run
from stackelberg.config import resolve_config
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.core.errors import UserInputError
from stackelberg.core.game import Game
from stackelberg.core.knobs import check_settings
from stackelberg.core.protocols import FitReport
from stackelberg.runner.players import build_players
from stackelberg.memb.config import MEMBConfig, memb_config_for
from stackelberg.memb.player import MEMBPolicyPlayer
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.models.probabilistic import ProbabilisticEnsemble

from test_kill_resume import assert_same_files, rows_without_timing

ONE_GAUSSIAN = ProbabilisticModelConfig(ensemble_size=1, num_elites=1, hidden_sizes=(16, 16),
                                        weight_decays=(0.0, 0.0, 0.0), activation="relu")


def pendulum_replay(n=64, seed=0) -> ReplayBuffer:
    """Transitions of the pendulum's shape (4 obs dims, actions in [-3, 3]), a few terminal."""
    g = torch.Generator().manual_seed(seed)
    obs = 0.1 * torch.randn(n, 4, generator=g)
    act = 6 * torch.rand(n, 1, generator=g) - 3
    nxt = obs + 0.05 * act + 0.01 * torch.randn(n, 4, generator=g)
    nxt[::7, 1] = 0.5  # the pole fell: terminal by the task's termination function
    buf = ReplayBuffer(None)
    buf.add(Trajectory(obs, act, nxt, torch.randn(n, generator=g), False))
    return buf


def tiny_player(**overrides) -> MEMBPolicyPlayer:
    task = tasks.make("inverted-pendulum")
    return MEMBPolicyPlayer(task, MEMBConfig(hidden_sizes=(8, 8), **overrides), seed=3)


# --- rsample --------------------------------------------------------------------------------

def _randomised_model(seed=0) -> ProbabilisticEnsemble:
    model = ProbabilisticEnsemble(3, 2, ONE_GAUSSIAN, seed=seed)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # a scaler that is not the identity, so normalisation is on the path
        model.input_mean.copy_(torch.randn(5, generator=g))
        model.input_std.copy_(0.5 + torch.rand(5, generator=g))
    return model.double()


def test_rsample_gradient_of_an_expectation_matches_the_closed_form():
    """Two expectations with closed forms, differentiated with respect to the action and to a
    model weight; the Monte Carlo mean of the gradients through rsample must match each:
    - f = |s' - m|^2 + (r - m_r)^2, (m, m_r) the predicted means held fixed: E f is the sum of
      the variances, so its gradient comes only through the noise scale (a draw that ignored
      sigma, or scaled by the variance instead of the std, fails);
    - f = w . s' + r: E f = w . mu_s' + mu_r, the gradient of the means (s' = s + delta)."""
    model = _randomised_model()
    obs = torch.tensor([[0.3, -0.2, 0.5]], dtype=torch.float64)
    act = torch.tensor([[0.4, -0.7]], dtype=torch.float64, requires_grad=True)
    weight = model.linear_layers()[0].weight
    mean, logvar = model._forward(model._normalize(obs, act).unsqueeze(0))
    mu_next, mu_reward = obs + mean[0, :, 1:], mean[0, :, 0]
    w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    closed_forms = (logvar.exp().sum(), (mu_next * w).sum() + mu_reward.sum())
    n = 200_000
    next_obs, reward = model.rsample(obs.expand(n, 3), act.expand(n, 2), torch.Generator().manual_seed(1))
    draws = ((((next_obs - mu_next.detach()) ** 2).sum(-1) + (reward - mu_reward.detach()) ** 2).mean(),
             ((next_obs * w).sum(-1) + reward).mean())
    for exact_value, estimate_value in zip(closed_forms, draws):
        exact = torch.autograd.grad(exact_value, [act, weight], retain_graph=True)
        estimate = torch.autograd.grad(estimate_value, [act, weight], retain_graph=True)
        for e, m in zip(exact, estimate):
            assert torch.linalg.norm(e) > 0.02
            assert torch.linalg.norm(m - e) < 0.05 * torch.linalg.norm(e)


def test_sample_is_rsample_without_gradients():
    """MBPO's `sample` draws the same numbers as before rsample existed (same generator use),
    and carries no graph."""
    model = _randomised_model().float()
    obs, act = torch.randn(50, 3), torch.randn(50, 2)
    a = model.sample(obs, act, torch.Generator().manual_seed(4))
    b = model.rsample(obs, act, torch.Generator().manual_seed(4))
    assert not a[0].requires_grad and b[0].requires_grad
    torch.testing.assert_close(a, tuple(x.detach() for x in b), rtol=0, atol=0)


# --- the actor's gradient ---------------------------------------------------------------------

def _directional_check(player, model, real, objective_fn):
    """Autograd's gradient of mean(objective) w.r.t. the actor's parameters along 3 random
    directions against central finite differences (float64, the same noise each time)."""
    params = list(player.actor.parameters())
    states = (player.update_noise.get_state(), player.generator.get_state())

    def value():
        player.update_noise.set_state(states[0])
        player.generator.set_state(states[1])
        return objective_fn().mean()

    grads = torch.autograd.grad(value(), params)
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in params]
        analytic = sum((gr * d).sum() for gr, d in zip(grads, direction)).item()
        eps = 1e-6
        with torch.no_grad():
            for p, d in zip(params, direction):
                p.add_(eps * d)
            plus = value().item()
            for p, d in zip(params, direction):
                p.sub_(2 * eps * d)
            minus = value().item()
            for p, d in zip(params, direction):
                p.add_(eps * d)
        assert analytic == pytest.approx((plus - minus) / (2 * eps), rel=1e-5, abs=1e-8)
    return grads


def test_actor_gradient_through_reward_model_dynamics_and_v_matches_finite_differences():
    player = tiny_player()
    model = ProbabilisticEnsemble(4, 1, ONE_GAUSSIAN, seed=1)
    model.fit(pendulum_replay(), epochs=3)
    player.nets.double()
    model.double()
    real = {k: v.double() if v.is_floating_point() else v
            for k, v in player.actions.real_data(pendulum_replay()).items()}
    obs, done = real["obs"][:16], real["done"][:16]
    assert done.any() and (~done).any()
    full = _directional_check(player, model, real, lambda: player.actor_objective(model, obs, done)[0])
    # each path carries gradient: without V (gamma = 0) or without the learned reward the
    # gradient is another one, so the check above covers both
    player.config.gamma = 0.0
    no_v = _directional_check(player, model, real, lambda: player.actor_objective(model, obs, done)[0])
    player.config.gamma, player.config.reward_source = 0.99, "task"
    task_reward = _directional_check(player, model, real,
                                     lambda: player.actor_objective(model, obs, done)[0])
    for other in (no_v, task_reward):
        assert max((a - b).abs().max().item() for a, b in zip(full, other)) > 1e-3


def test_actor_step_moves_only_the_actor():
    player = tiny_player()
    model = ProbabilisticEnsemble(4, 1, ONE_GAUSSIAN, seed=1)
    replay = pendulum_replay()
    model.fit(replay, epochs=2)
    model.optimizer.zero_grad(set_to_none=True)
    frozen = {name: p.detach().clone() for name, p in model.named_parameters()}
    v_before = [p.detach().clone() for p in player.v.parameters()]
    objective, _, _ = player.actor_objective(model, player.actions.real_data(replay)["obs"][:8],
                                             torch.zeros(8, dtype=torch.bool))
    (-objective.mean()).backward(inputs=list(player.actor.parameters()))
    assert all(p.grad is None for p in model.parameters())
    assert all(p.grad is None for p in player.v.parameters())
    player.update(model, {k: v[:8] for k, v in player.actions.real_data(replay).items()})
    assert all(torch.equal(p, frozen[name]) for name, p in model.named_parameters())
    assert any(not torch.equal(a, b) for a, b in zip(v_before, player.v.parameters()))


# --- which data trains Q and V ------------------------------------------------------------------

class ForbiddenModel:
    """A model no value step may touch."""

    def rsample(self, obs, act, generator):
        raise AssertionError("the value step used the model")


def test_q_and_v_train_on_real_transitions_only(monkeypatch):
    """Every batch the value step sees is made of replay rows, the networks being trained see
    only those rows' states and actions, and no model draw enters the targets (H = 1); with
    value expansion (H = 2) the same recording sees the model."""
    replay = pendulum_replay()
    model = ProbabilisticEnsemble(4, 1, ONE_GAUSSIAN, seed=1)
    model.fit(replay, epochs=2)
    player = tiny_player(updates_per_step=1)
    real = player.actions.real_data(replay)  # the replay with actions in the actor's units
    keys = ("obs", "act", "reward", "next_obs")
    row = lambda batch: torch.cat([batch[k].reshape(batch["obs"].shape[0], -1) for k in keys], 1)
    real_rows = {tuple(r.tolist()) for r in row(real)}
    real_pairs = {tuple(r.tolist()) for r in torch.cat([real["obs"], real["act"]], 1)}
    trained_inputs = []
    recording = {"on": False}
    for net in (player.q, player.v):
        net.register_forward_hook(lambda m, args, out: trained_inputs.append(args)
                                  if recording["on"] and torch.is_grad_enabled() else None)
    value_losses = player.value_losses

    def recorded(model_arg, batch):
        assert all(tuple(r.tolist()) in real_rows for r in row(batch))
        recording["on"] = True
        try:
            return value_losses(ForbiddenModel(), batch)
        finally:
            recording["on"] = False

    monkeypatch.setattr(player, "value_losses", recorded)
    report = player.improve(model, replay, None, 0)
    assert report.steps == len(replay) and trained_inputs
    real_states = {tuple(r.tolist()) for r in real["obs"]}
    for args in trained_inputs:  # Q is trained on real (s, a) pairs, V on real states
        inputs = torch.cat(args, 1) if len(args) == 2 else args[0]
        assert all(tuple(r.tolist()) in (real_pairs if len(args) == 2 else real_states) for r in inputs)
    assert {len(args) for args in trained_inputs} == {1, 2}

    expanding = tiny_player(updates_per_step=1, value_expansion_h=2)
    with pytest.raises(AssertionError, match="used the model"):
        expanding.value_losses(ForbiddenModel(), player.actions.real_data(replay))


# --- losses against hand-computed values --------------------------------------------------------

class LinearModel:
    """s' = s + 0.01 sum(a), r = sum(a): known and differentiable (and the pendulum's pole
    stays up, so no imagined step ends). Its `train_step` only records the batch it got."""

    ensemble_size = 1

    def __init__(self):
        self.steps = []

    def rsample(self, obs, act, generator):
        return obs + 0.01 * act.sum(-1, keepdim=True), act.sum(-1)

    def train_step(self, obs, act, reward, next_obs):
        self.steps.append((obs, act, reward, next_obs))
        return torch.tensor(0.5)


def _constant(net, value):
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        list(net.parameters())[-1].fill_(value)


def _squashed_draws(player, n):
    """The actor's next n draws (mean 0, std sigma, from its update noise) and their log pi,
    by the change-of-variables formula written out."""
    sigma = math.exp(-1.0)
    state = player.update_noise.get_state()
    eps = torch.randn((n, 1), generator=player.update_noise)
    player.update_noise.set_state(state)
    u = sigma * eps
    log_normal = -0.5 * eps ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    return torch.tanh(u), (log_normal - torch.log(1 - torch.tanh(u) ** 2)).squeeze(-1)


def _hand_player(**overrides):
    player = tiny_player(alpha=0.5, gamma=0.9, **overrides)
    with torch.no_grad():  # actor: mean 0, log std -1 everywhere
        for p in player.actor.parameters():
            p.zero_()
        player.actor.net[-1].bias[1:].fill_(-1.0)
    _constant(player.v, 2.0)
    _constant(player.v_target, 3.0)
    with torch.no_grad():  # Q1 = 1.0, Q2 = 1.5 everywhere
        for p in player.q.parameters():
            p.zero_()
        player.q.net.net[-1].bias[0].fill_(1.0)
        player.q.net.net[-1].bias[1].fill_(1.5)
    return player


BATCH = {"obs": torch.zeros(3, 4), "act": torch.tensor([[0.5], [-0.5], [0.0]]),
         "reward": torch.tensor([1.0, 2.0, -1.0]), "next_obs": torch.zeros(3, 4),
         "done": torch.tensor([False, True, False])}


def test_losses_against_hand_computed_values():
    player = _hand_player()
    model = LinearModel()
    # Q: targets r + 0.9 (1 - d) * 3 = [3.7, 2.0, 1.7]; 0.5 mean (Q_j - y)^2 summed over j
    y = np.array([3.7, 2.0, 1.7])
    q_expected = 0.5 * np.mean((1.0 - y) ** 2) + 0.5 * np.mean((1.5 - y) ** 2)
    a, logp = _squashed_draws(player, 3)
    # V: target min Q - alpha log pi = 1.0 - 0.5 log pi; V = 2
    v_expected = 0.5 * ((2.0 - (1.0 - 0.5 * logp)) ** 2).mean()
    q_loss, v_loss = player.value_losses(model, BATCH)
    assert q_loss.item() == pytest.approx(q_expected, rel=1e-6)
    assert v_loss.item() == pytest.approx(v_expected.item(), rel=1e-5)

    # actor: r^ = 3 a~ (env units: the pendulum's bound is 3), V(s') = 2 (main V, not 3)
    a, logp = _squashed_draws(player, 3)
    objective, _, reward = player.actor_objective(model, BATCH["obs"], BATCH["done"])
    expected = 3 * a.squeeze(-1) - 0.5 * logp + 0.9 * (1 - BATCH["done"].float()) * 2.0
    torch.testing.assert_close(objective.detach(), expected)
    torch.testing.assert_close(reward.detach(), 3 * a.squeeze(-1))
    player.config.actor_value = "v_target"
    a, logp = _squashed_draws(player, 3)
    expected = 3 * a.squeeze(-1) - 0.5 * logp + 0.9 * (1 - BATCH["done"].float()) * 3.0
    torch.testing.assert_close(player.actor_objective(model, BATCH["obs"], BATCH["done"])[0].detach(),
                               expected)

    # the Q-actor (SAC-v1) ablation: min Q - alpha log pi, no model
    player.config.policy_objective = "q"
    a, logp = _squashed_draws(player, 3)
    objective, _, _ = player.actor_objective(ForbiddenModel(), BATCH["obs"], BATCH["done"])
    torch.testing.assert_close(objective.detach(), 1.0 - 0.5 * logp)


class FallingModel(LinearModel):
    """LinearModel whose draw of the second state has the pole fallen (angle 0.5 rad)."""

    def rsample(self, obs, act, generator):
        next_obs, reward = super().rsample(obs, act, generator)
        return next_obs.index_put((torch.tensor([1]), torch.tensor([1])), torch.tensor(0.5)), reward


def test_actor_done_reads_the_real_flag_or_the_tasks_termination_on_the_draw():
    """The code's (1 - d) V(f(s, a~)) takes d from the real transition; `actor_done = "task"`
    asks the task whether the model's draw ended the episode, whatever the real step did."""
    player = _hand_player()
    real_done = torch.tensor([True, False, False])  # the real first step ended, the draws' second
    a, logp = _squashed_draws(player, 3)
    objective, _, _ = player.actor_objective(FallingModel(), BATCH["obs"], real_done)
    torch.testing.assert_close(objective.detach(), 3 * a.squeeze(-1) - 0.5 * logp
                               + 0.9 * torch.tensor([0.0, 2.0, 2.0]))
    player.config.actor_done = "task"
    a, logp = _squashed_draws(player, 3)
    objective, _, _ = player.actor_objective(FallingModel(), BATCH["obs"], real_done)
    torch.testing.assert_close(objective.detach(), 3 * a.squeeze(-1) - 0.5 * logp
                               + 0.9 * torch.tensor([2.0, 0.0, 2.0]))


def test_value_expansion_h2_targets_by_hand():
    """H = 2: Q's target is r + g (1 - d) [r^_1 - alpha log pi_1 + g Vbar(s_2)], V's is
    r^_0 - alpha log pi_0 + g (min Q(s_1, a_1) - alpha log pi_1), the imagined steps drawn in
    that order (Q's first)."""
    player = _hand_player(value_expansion_h=2)
    model = LinearModel()
    # draws: 3 for Q's imagined step, then 3 + 3 for V's step and its bootstrap
    state = player.update_noise.get_state()
    a_q, logp_q = _squashed_draws(player, 3)
    torch.randn((3, 1), generator=player.update_noise)
    a_v, logp_v = _squashed_draws(player, 3)
    torch.randn((3, 1), generator=player.update_noise)
    _, logp_v1 = _squashed_draws(player, 3)
    player.update_noise.set_state(state)
    not_done = 1 - BATCH["done"].float()
    y = BATCH["reward"] + 0.9 * not_done * (3 * a_q.squeeze(-1) - 0.5 * logp_q + 0.9 * 3.0)
    q_expected = 0.5 * ((1.0 - y) ** 2).mean() + 0.5 * ((1.5 - y) ** 2).mean()
    v_target = 3 * a_v.squeeze(-1) - 0.5 * logp_v + 0.9 * (1.0 - 0.5 * logp_v1)
    v_expected = 0.5 * ((2.0 - v_target) ** 2).mean()
    q_loss, v_loss = player.value_losses(model, BATCH)
    assert q_loss.item() == pytest.approx(q_expected.item(), rel=1e-5)
    assert v_loss.item() == pytest.approx(v_expected.item(), rel=1e-5)


def test_target_v_is_polyak_averaged_after_each_update():
    player = tiny_player(tau=0.25)
    replay = pendulum_replay()
    model = ProbabilisticEnsemble(4, 1, ONE_GAUSSIAN, seed=1)
    model.fit(replay, epochs=1)
    target_before = [p.detach().clone() for p in player.v_target.parameters()]
    player.update(model, {k: v[:8] for k, v in player.actions.real_data(replay).items()})
    for old, new, v in zip(target_before, player.v_target.parameters(), player.v.parameters()):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * v.detach())


# --- the data clock -----------------------------------------------------------------------------

def test_updates_follow_the_data_clock_and_the_warm_up():
    model = LinearModel()
    replay = pendulum_replay(n=40)
    player = tiny_player(updates_per_step=2, ac_start_samples=50)
    assert player.improve(model, replay, None, 0).steps == 0  # 40 < 50: model-only warm-up
    more = pendulum_replay(n=30, seed=1).tensors()
    replay.add(Trajectory(more["obs"], more["act"], more["next_obs"], more["reward"], False))
    report = player.improve(model, replay, None, 0)
    assert report.steps == 2 * (70 - 50) and math.isfinite(report.extras["q_loss"])
    player = tiny_player(updates_per_step=2)  # paper: from the first step on
    assert player.improve(model, pendulum_replay(n=40), None, 0).steps == 80


def _work_log(monkeypatch, player, model):
    """player.improve's work in order: "M" a model step, "F" a model fit, "U" an actor-critic
    update."""
    log = []
    update, train_step = player.update, model.train_step
    monkeypatch.setattr(player, "update", lambda m, b: (log.append("U"), update(m, b))[1])
    monkeypatch.setattr(model, "train_step", lambda *a: (log.append("M"), train_step(*a))[1])
    monkeypatch.setattr(model, "fit", lambda *a: (log.append("F"), FitReport(7, 0.25))[1],
                        raising=False)
    return log


@pytest.mark.parametrize("k,block,warm,per_step", [
    (1, "", "M", "MUUU"),  # Algorithm 1: a model step, then the m updates
    (6, "", "M", "MUMUMUMMM"),  # the code's chain (m = 3 here), its warm-up's one step
    (2, "", "M", "MUMUU"),
    (0, "F", "", "UUU"),  # MBPO's early-stopped fit before each block, no per-step model work
])
def test_model_steps_per_real_step_and_the_warm_up_boundary(monkeypatch, k, block, warm, per_step):
    """k model steps per real step, interleaved as documented; before `ac_start_samples` one
    model step and no update per step; from the 50th sample on the full work."""
    model = LinearModel()
    player = tiny_player(updates_per_step=3, model_steps_per_step=k, ac_start_samples=50)
    log = _work_log(monkeypatch, player, model)
    replay = pendulum_replay(n=40)
    report = player.improve(model, replay, None, 0)
    assert "".join(log) == block + warm * 40 and report.steps == 0
    assert report.extras["model_steps"] == (7 if block else 40)
    log.clear()
    more = pendulum_replay(n=30, seed=1).tensors()
    replay.add(Trajectory(more["obs"], more["act"], more["next_obs"], more["reward"], False))
    report = player.improve(model, replay, None, 0)
    # steps 40..49 are still the warm-up, 50..69 are trained
    assert "".join(log) == block + warm * 10 + per_step * 20
    assert report.steps == 3 * 20
    assert report.extras["model_steps"] == (7 if block else 10 + k * 20)
    assert report.extras["model_loss"] == (0.25 if block else 0.5)


def test_the_model_steps_on_real_transitions_in_env_units():
    """Every batch the model trains on is made of replay rows, actions as the world took them
    (not the actor's [-1, 1] units)."""
    model, replay = LinearModel(), pendulum_replay()
    player = tiny_player(updates_per_step=2, model_steps_per_step=3)
    player.improve(model, replay, None, 0)
    assert len(model.steps) == 3 * len(replay)
    data = replay.tensors()
    real_rows = {tuple(r.tolist()) for r in torch.cat(
        [data["obs"], data["act"], data["reward"].unsqueeze(-1), data["next_obs"]], 1)}
    for obs, act, reward, next_obs in model.steps:
        rows = torch.cat([obs, act, reward.unsqueeze(-1), next_obs], 1)
        assert all(tuple(r.tolist()) in real_rows for r in rows)
    assert max(float(act.abs().max()) for _, act, _, _ in model.steps) > 1.5  # env units


def test_train_step_is_one_adam_step_of_the_fits_loss():
    """The returned loss is `training_loss` on the batch (raw inputs before any fit), one Adam
    step moves the weights, and the loss on that batch falls over a few steps."""
    model = ProbabilisticEnsemble(4, 1, ONE_GAUSSIAN, seed=2)
    data = pendulum_replay().tensors()
    batch = (data["obs"][:32], data["act"][:32], data["reward"][:32], data["next_obs"][:32])
    x = torch.cat([batch[0], batch[1]], 1).unsqueeze(0)
    y = torch.cat([batch[2].unsqueeze(-1), batch[3] - batch[0]], 1).unsqueeze(0)
    with torch.no_grad():
        expected = model.training_loss(x, y)
    before = model.linear_layers()[0].weight.detach().clone()
    first = model.train_step(*batch)
    torch.testing.assert_close(first, expected)
    assert not torch.equal(before, model.linear_layers()[0].weight)
    assert model.optimizer.state_dict()["state"][0]["step"] == 1
    for _ in range(20):
        last = model.train_step(*batch)
    assert last < 0.95 * first


def test_acts_uniformly_until_the_first_improve_then_with_the_actor():
    player = tiny_player()
    obs = torch.zeros(2000, 4)
    first = player.act(obs)
    assert first.min() < -2.9 and first.max() > 2.9  # uniform over [-3, 3]
    player.improve(LinearModel(), pendulum_replay(n=10), None, 0)
    torch.testing.assert_close(player.act(obs, deterministic=True),
                               3 * torch.tanh(player.actor(obs)[0]))


# --- configuration --------------------------------------------------------------------------------

def _config(*argv):
    return run.config_from_args(run.build_parser().parse_args(list(argv)))


def test_defaults_are_the_papers_and_pick_one_gaussian_with_a_reward_head():
    config = _config("--policy", "memb", "--task", "halfcheetah")
    assert config.model_player == "probabilistic"
    m, pm = config.memb, config.probabilistic_model
    assert (m.alpha, m.value_lr, m.pi_lr, m.updates_per_step, m.batch_size, m.hidden_sizes) == \
        (0.4, 1e-3, 3e-4, 5, 100, (256, 256))
    assert (m.ac_start_samples, m.value_expansion_h, m.policy_objective) == (0, 1, "model")
    assert (pm.ensemble_size, pm.num_elites, pm.hidden_sizes, pm.activation) == (1, 1, (256, 128), "relu")
    assert config.schedule.initial_samples == 1000 and config.schedule.samples_per_iteration == 250
    assert config.schedule.buffer_capacity is None
    policy, model = build_players(config, tasks.make("halfcheetah"))
    assert isinstance(policy, MEMBPolicyPlayer) and isinstance(model, ProbabilisticEnsemble)
    hopper = _config("--policy", "memb", "--task", "hopper")
    assert (hopper.memb.alpha, hopper.memb.updates_per_step, hopper.probabilistic_model.lr) == (0.2, 3, 1e-4)
    assert memb_config_for("inverted-pendulum").updates_per_step == 1
    # the authors' code's choices, and the ablations, are settings
    code = _config("--policy", "memb", "--set", "memb.ac_start_samples=6000",
                   "--set", "memb.hidden_sizes=300,300", "--set", "memb.policy_objective=q")
    assert code.memb.ac_start_samples == 6000 and code.memb.policy_objective == "q"


def test_a_model_without_rsample_is_a_one_line_error(tmp_path, capsys):
    assert run.main(["--policy", "memb", "--model-player", "deterministic", "--samples", "300",
                     "--out", str(tmp_path / "never"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "has no rsample" in err
    assert not (tmp_path / "never").exists()  # refused before anything is written
    assert run.main(["--policy", "memb", "--set", "memb.policy_objective=ppo", "--out",
                     str(tmp_path / "never")]) == 2
    assert "policy_objective must be one of model, q" in capsys.readouterr().err
    with pytest.raises(UserInputError, match="value_expansion_h"):
        check_settings("memb", MEMBConfig(value_expansion_h=0))


# --- end to end -----------------------------------------------------------------------------------

MEMB_FAST = ["--policy", "memb", "--task", "inverted-pendulum", "--initial-samples", "100",
             "--samples-per-iteration", "100", "--set", "memb.hidden_sizes=16,16",
             "--set", "probabilistic_model.hidden_sizes=8,8",
             "--eval-episodes", "1", "--threads", "1", "--no-progress"]


def test_memb_runs_resumes_exactly_and_reports(tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run.main(MEMB_FAST + ["--samples", "400", "--out", str(full)]) == 0
    rows = list(csv.DictReader(open(full / "metrics.csv")))
    samples = [int(r["samples"]) for r in rows]
    assert len(rows) == 4 and samples[-1] >= 400
    # m = 1 on the pendulum: one update per real step, the first block too (no warm-up)
    assert [int(r["improve_steps"]) for r in rows] == [samples[0]] + \
        [b - a for a, b in zip(samples, samples[1:])]
    assert all(math.isfinite(float(r[f"policy_{k}"])) for r in rows
               for k in ("q_loss", "v_loss", "actor_objective", "model_reward", "model_loss"))
    # the paper's model training: one step per real step, by the player; the Game's fit takes
    # none and reports the model's error on the latest data
    assert [float(r["policy_model_steps"]) for r in rows] == [float(r["improve_steps"]) for r in rows]
    assert all(int(r["fit_steps"]) == 0 and math.isfinite(float(r["model_train_loss"])) for r in rows)
    assert 'policy = "memb"' in (full / "config.toml").read_text()
    assert run.main(MEMB_FAST + ["--samples", "200", "--out", str(part)]) == 0
    assert run.main(["--resume", "--out", str(part), "--samples", "400", "--no-progress"]) == 0
    assert rows_without_timing(part) == rows_without_timing(full)
    assert_same_files(part, full)

    from stackelberg.cli import render as render_cli
    from stackelberg.cli import report as report_cli

    capsys.readouterr()
    assert report_cli.main([str(full), str(part), "--plot", str(tmp_path / "report.png")]) == 0
    assert (tmp_path / "report.png").stat().st_size > 0 and "memb" in capsys.readouterr().out
    assert render_cli.main([str(full), "--max-steps", "4", "--frame-skip", "2", "--hold", "0",
                            "--width", "64", "--height", "64",
                            "--out", str(tmp_path / "episode.mp4")]) == 0
    assert (tmp_path / "episode.mp4").stat().st_size > 0


def test_the_early_stopped_fit_is_a_choice(tmp_path):
    """k = 0: MBPO's fit to early stopping, by the player before each block (several epochs of
    steps, its holdout MSE as the loss); the schedule's fit still takes none."""
    out = tmp_path / "fit"
    assert run.main(MEMB_FAST + ["--samples", "200", "--set", "memb.model_steps_per_step=0",
                                 "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert all(int(r["fit_steps"]) == 0 for r in rows)
    assert all(float(r["policy_model_steps"]) > 0 and math.isfinite(float(r["policy_model_loss"]))
               for r in rows)
    assert all(float(r["policy_model_steps"]) != float(r["improve_steps"]) for r in rows)


def test_ablation_arms_run(tmp_path):
    """The Q-actor (no model in the policy step) and value expansion H = 2 as runs."""
    for arm, setting in (("q", "memb.policy_objective=q"), ("h2", "memb.value_expansion_h=2")):
        out = tmp_path / arm
        assert run.main(MEMB_FAST + ["--samples", "200", "--set", setting, "--out", str(out)]) == 0
        rows = list(csv.DictReader(open(out / "metrics.csv")))
        assert all(math.isfinite(float(r["policy_q_loss"])) for r in rows)


@pytest.mark.parametrize("task_name", tasks.names())
def test_memb_trains_on_every_task(task_name):
    """`--policy memb` through the config and registry on each task, 20-step episodes: a model
    step and an actor-critic update per real step, finite losses, and a learned reward where the
    world hides it."""
    config = resolve_config(None, [("run.task", task_name), ("run.policy", "memb"),
                                   ("memb.hidden_sizes", "8,8"), ("probabilistic_model.hidden_sizes", "8,8"),
                                   ("memb.ac_start_samples", "0"), ("memb.updates_per_step", "1"),
                                   ("schedule.initial_samples", "20"), ("schedule.samples_per_iteration", "20")])
    task = replace(tasks.make(task_name), horizon=20)
    policy, model = build_players(config, task)
    assert isinstance(policy, MEMBPolicyPlayer) and isinstance(model, ProbabilisticEnsemble)
    game = Game(task, policy, model, config.schedule, seed=0, eval_episodes=1)
    records = [game.step() for _ in range(2)]
    last = records[-1]
    assert last.samples >= 40 and math.isfinite(last.eval_return)
    assert last.policy_extras["model_steps"] == last.improve_steps > 0
    assert all(math.isfinite(last.policy_extras[k]) for k in ("q_loss", "v_loss", "actor_objective"))
