"""MBPO backend: the probabilistic ensemble, SAC, and the branched-rollout policy player."""
import dataclasses
import io
import math

import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg import PAL, Game
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.mbpo.config import MBPO_TASK_DEFAULTS, MBPOConfig, mbpo_config_for
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg import DynamicsEnsemble, ModelPlayer, PolicyPlayer
from stackelberg.mbpo.player import MBPOPolicyPlayer, build_mbpo_players, rollout_length
from stackelberg.models.probabilistic import (ProbabilisticEnsemble, gaussian_nll,
                                               soft_bound_logvar)
from stackelberg.mbpo.sac import SAC
from stackelberg.models.ensemble import EnsembleLinear
from stackelberg import ModelConfig

TINY_MODEL = ProbabilisticModelConfig(hidden_sizes=(16, 16), weight_decays=(1e-5, 1e-5, 1e-5))


def tiny_mbpo(task_name="inverted-pendulum", **overrides):
    base = dict(hidden_sizes=(32, 32), rollouts_per_env_step=4, min_pool_size=0, updates_per_step=1)
    return mbpo_config_for(task_name, **{**base, **overrides})


def random_replay(obs_dim=2, act_dim=1, n=200, seed=0, reward=None):
    g = torch.Generator().manual_seed(seed)
    obs = torch.randn(n, obs_dim, generator=g)
    act = torch.rand(n, act_dim, generator=g) * 2 - 1
    nxt = obs + 0.1 * act.sum(-1, keepdim=True) + 0.01 * torch.randn(n, obs_dim, generator=g)
    rew = torch.full((n,), float(reward)) if reward is not None else -(obs ** 2).sum(-1)
    buf = ReplayBuffer(None)
    buf.add(Trajectory(obs, act, nxt, rew, False))
    return buf


def trajectory_from(task, n, seed=0, reward=1.0):
    g = torch.Generator().manual_seed(seed)
    obs = 0.01 * torch.randn(n, task.obs_dim, generator=g)
    act = torch.rand(n, task.act_dim, generator=g) * 2 - 1
    return Trajectory(obs, act, obs + 0.001, torch.full((n,), reward), False)


class StubModel:
    """A model player whose every prediction is known: s' = s + 0.001, reward 0."""

    ensemble_size = 1

    def fit(self, buffer, epochs, min_steps, max_steps):
        raise NotImplementedError

    def step(self, obs, act):
        return (obs + 0.001).unsqueeze(0)

    def sample(self, obs, act, generator):
        return obs + 0.001, torch.zeros(obs.shape[0])

    def loss(self, obs, act, next_obs):
        return torch.zeros(1)

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


# --- probabilistic ensemble ---------------------------------------------------------------
def test_players_follow_the_protocols_with_the_settings_they_are_given():
    task = tasks.make("inverted-pendulum")
    three = ProbabilisticModelConfig(ensemble_size=3, num_elites=2, hidden_sizes=(16,),
                                     weight_decays=(0.0, 0.0))
    policy, model = build_mbpo_players(task, tiny_mbpo(), three)
    assert isinstance(policy, PolicyPlayer) and isinstance(model, ModelPlayer)
    obs = torch.zeros(5, task.obs_dim)
    assert model.step(obs, torch.zeros(5, task.act_dim)).shape == (3, 5, task.obs_dim)
    assert policy.act(obs).shape == (5, task.act_dim) and policy.config == tiny_mbpo()
    # without settings, the task's official ones
    assert build_mbpo_players(task)[0].config == mbpo_config_for(task.name)


def test_task_settings_sit_between_the_defaults_and_the_overrides():
    default = MBPOConfig()
    # the defaults are hopper's; the other tasks differ, so a lookup that fell back would show
    assert sum(mbpo_config_for(name) != default for name in MBPO_TASK_DEFAULTS) >= 2
    for name, settings in MBPO_TASK_DEFAULTS.items():
        config = mbpo_config_for(name)
        for f in dataclasses.fields(MBPOConfig):
            assert getattr(config, f.name) == settings.get(f.name, getattr(default, f.name)), f.name
        assert mbpo_config_for(name, updates_per_step=3).updates_per_step == 3
    assert mbpo_config_for("a-task-without-official-settings") == default


def test_gaussian_nll_matches_hand_computation():
    mean = torch.tensor([[[0.0, 1.0], [2.0, -1.0]]])  # (E=1, B=2, D=2)
    logvar = torch.tensor([[[0.0, math.log(4.0)], [-1.0, 0.5]]])
    target = torch.tensor([[[1.0, 1.0], [0.0, 0.0]]])
    terms = [(0 - 1) ** 2 * 1 + 0, 0 + math.log(4.0),
             (2 - 0) ** 2 * math.exp(1.0) - 1.0, (-1 - 0) ** 2 * math.exp(-0.5) + 0.5]
    assert gaussian_nll(mean, logvar, target).item() == pytest.approx(sum(terms) / 4, rel=1e-6)


def test_training_loss_adds_weight_decay_and_bound_terms():
    cfg = ProbabilisticModelConfig(ensemble_size=2, num_elites=1, hidden_sizes=(8,),
                                   weight_decays=(0.1, 0.2))
    model = ProbabilisticEnsemble(3, 1, cfg)
    x, y = torch.randn(2, 5, 4), torch.randn(2, 5, 4)
    mean, logvar = model._forward(x)
    layers = model.linear_layers()
    expected = (gaussian_nll(mean, logvar, y).sum()
                + 0.1 * 0.5 * (layers[0].weight ** 2).sum() + 0.2 * 0.5 * (layers[1].weight ** 2).sum()
                + 0.01 * (4 * 0.5 - 4 * -10.0))
    assert model.training_loss(x, y).item() == pytest.approx(expected.item(), rel=1e-6)


def test_logvar_stays_within_soft_bounds():
    max_lv, min_lv = torch.tensor(0.5), torch.tensor(-10.0)
    raw = torch.linspace(-1e4, 1e4, 10001)
    out = soft_bound_logvar(raw, max_lv, min_lv)
    slack = torch.nn.functional.softplus(min_lv - max_lv)  # the upper bound's tiny overshoot
    assert (out >= min_lv).all() and (out <= max_lv + slack + 1e-6).all()
    # in the middle of the range the bounds barely move the value
    assert soft_bound_logvar(torch.tensor(-4.0), max_lv, min_lv).item() == pytest.approx(-4.0, abs=0.02)
    # and the model's outputs on wild inputs respect them
    model = ProbabilisticEnsemble(2, 1, TINY_MODEL)
    _, logvar = model.predict(1e4 * torch.randn(50, 2), 1e4 * torch.randn(50, 1))
    assert (logvar >= model.min_logvar - 1e-6).all()
    assert (logvar <= model.max_logvar + slack + 1e-6).all()


def _constant_members(values, **overrides):
    """A model whose member i predicts the constant values[i] for every output."""
    cfg = ProbabilisticModelConfig(**{**dict(ensemble_size=len(values), num_elites=5, hidden_sizes=(8, 8),
                                             weight_decays=(0.0, 0.0, 0.0), lr=1e-12), **overrides})
    model = ProbabilisticEnsemble(2, 1, cfg)
    last = model.linear_layers()[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[:, 0, :model.out_dim] = torch.tensor(values).unsqueeze(-1)
    return model


def test_elites_are_the_members_with_lowest_holdout_error():
    values = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.0]
    model = _constant_members(values)
    buffer = random_replay(n=300)
    data = buffer.tensors()
    buffer = ReplayBuffer(None)  # targets all zero: reward 0, next_obs = obs
    buffer.add(Trajectory(data["obs"], data["act"], data["obs"].clone(), torch.zeros(300), False))
    report = model.fit(buffer, epochs=100, min_steps=0, max_steps=10**6)
    assert sorted(model.elites.tolist()) == [0, 1, 3, 5, 6]
    assert model.holdout_mse.tolist() == pytest.approx([v * v for v in values], rel=1e-4)
    assert report.train_loss == pytest.approx(np.mean([0.0, 0.01, 0.04, 0.09, 0.25]), rel=1e-4)
    # nothing improves after the first epoch: stop after patience + 1 further epochs (one
    # gradient step per epoch: 240 training rows, one batch)
    assert report.steps == 1 + model.config.patience + 1


def test_early_stopping_restores_each_members_best_snapshot(monkeypatch):
    cfg = ProbabilisticModelConfig(ensemble_size=3, num_elites=2, hidden_sizes=(8,),
                                   weight_decays=(0.0, 0.0), patience=2, lr=1e-2)
    model = ProbabilisticEnsemble(2, 1, cfg)
    script = [[1.0, 1.0, 1.0],     # epoch 1: everyone improves on +inf
              [0.5, 0.9, 1.0],     # 2: members 0 and 1 improve
              [0.498, 0.95, 1.0],  # 3: member 0 is only 0.4 % better: not an improvement
              [0.6, 0.3, 1.2],     # 4: member 1 improves
              [0.6, 0.4, 1.2], [0.6, 0.4, 1.2], [0.6, 0.4, 1.2]]  # 5-7: none -> stop after 7
    seen = []

    def scripted(x, y):
        seen.append([p.detach().clone() for p in model.member_parameters()])
        return torch.tensor(script[len(seen) - 1] if len(seen) <= len(script) else [0.5, 0.3, 1.0])

    monkeypatch.setattr(model, "member_mse", scripted)
    report = model.fit(random_replay(n=100), epochs=50, min_steps=0, max_steps=10**6)
    assert report.steps == 7  # one batch per epoch (80 training rows)
    best_epoch = {0: 2, 1: 4, 2: 1}
    final = seen[-1]  # parameters at the post-restore evaluation
    for member, epoch in best_epoch.items():
        for restored, at_best, at_end in zip(final, seen[epoch - 1], seen[6]):
            assert torch.equal(restored[member], at_best[member])
            assert not torch.equal(restored[member], at_end[member])
    assert model.elites.tolist() == [1, 0]


def test_sample_uses_one_elite_per_transition_and_its_gaussian():
    model = ProbabilisticEnsemble(3, 2, TINY_MODEL)
    model.fit(random_replay(3, 2, n=100), epochs=2)
    model.elites.copy_(torch.tensor([6, 0, 3, 2, 5]))
    obs, act = torch.randn(40, 3), torch.randn(40, 2)
    gen = torch.Generator().manual_seed(3)
    next_obs, reward = model.sample(obs, act, gen)
    # brute force with the same random numbers: every member, then pick
    gen = torch.Generator().manual_seed(3)
    choice = model.elites[torch.randint(0, 5, (40,), generator=gen)]
    mean, logvar = model.predict(obs, act)
    order = torch.argsort(torch.randint(0, 5, (40,), generator=torch.Generator().manual_seed(3)), stable=True)
    noise_sorted = torch.randn(40, 4, generator=gen)
    noise = torch.empty_like(noise_sorted)
    noise[order] = noise_sorted
    rows = torch.arange(40)
    expected = mean[choice, rows] + noise * torch.exp(0.5 * logvar[choice, rows])
    assert torch.allclose(reward, expected[:, 0], atol=1e-5)
    assert torch.allclose(next_obs, obs + expected[:, 1:], atol=1e-5)
    # step gives every member's mean
    assert torch.allclose(model.step(obs, act), obs + mean[..., 1:], atol=1e-6)


# --- the rollout-length schedule and the update clock ------------------------------------
def test_rollout_length_schedule():
    hopper, ant = (20, 150, 1, 15), (20, 100, 1, 25)
    assert [rollout_length((1, 15, 1, 1), e) for e in (0, 1, 10, 80)] == [1, 1, 1, 1]
    assert rollout_length(hopper, 0) == 1 and rollout_length(hopper, 20) == 1  # before/at a
    assert rollout_length(hopper, 25) == 1  # 1 + 5/130*14 = 1.54 truncates to 1
    assert rollout_length(hopper, 30) == 2  # 2.08
    assert rollout_length(hopper, 85) == 8  # exactly 8
    assert rollout_length(hopper, 150) == 15 and rollout_length(hopper, 1000) == 15  # at/after b
    assert rollout_length(ant, 60) == 13


def test_update_clock_rollouts_and_model_buffer():
    task = tasks.make("inverted-pendulum")
    cfg = tiny_mbpo(updates_per_step=3, min_pool_size=150, rollouts_per_env_step=2,
                    rollout_schedule=(0, 2, 1, 3), epoch_length=100, retain_epochs=1)
    policy = MBPOPolicyPlayer(task, cfg)
    replay = ReplayBuffer(None)
    replay.add(trajectory_from(task, 100))
    first = policy.improve(StubModel(), replay, None, steps=4)
    # initial exploration: rollouts but no SAC updates; k = 1 at epoch 0
    assert first.steps == 0 and first.extras["rollout_length"] == 1
    assert first.extras["model_buffer_size"] == 200  # 2 rollouts per new step, length 1
    replay.add(trajectory_from(task, 100, seed=1))
    second = policy.improve(StubModel(), replay, None, steps=4)
    # steps 101..200: only those after min_pool_size (150) earn updates; epoch 1 -> k = 2
    assert second.steps == 3 * 50 and second.extras["epoch"] == 1
    assert second.extras["rollout_length"] == 2
    # capacity retain * k * rollouts_per_env_step * epoch_length = 1*2*2*100; 200 + 2*200 overflow it
    assert second.extras["model_buffer_size"] == 400 == policy.model_buffer.capacity
    replay.add(trajectory_from(task, 100, seed=2))
    third = policy.improve(StubModel(), replay, None, steps=4)
    assert third.steps == 300 and third.extras["rollout_length"] == 3
    assert policy.model_buffer.capacity == 600 and third.extras["mean_rollout_steps"] == 3
    assert math.isfinite(third.kl) and math.isfinite(third.extras["q_loss"])
    # the task's exact reward (1 per alive step) over k = 3 steps that never terminate
    assert third.model_return == pytest.approx(3.0)


def test_model_return_uses_task_reward_by_default_and_learned_on_request():
    task = tasks.make("inverted-pendulum")
    replay = ReplayBuffer(None)
    replay.add(trajectory_from(task, 100))
    exact = MBPOPolicyPlayer(task, tiny_mbpo(rollout_schedule=(0, 1, 2, 2)))
    # the pendulum pays 1 per alive step; the stub model's reward head says 0
    assert exact.improve(StubModel(), replay, None, 1).model_return == pytest.approx(2.0)
    learned = MBPOPolicyPlayer(task, tiny_mbpo(rollout_schedule=(0, 1, 2, 2), learned_reward=True))
    assert learned.improve(StubModel(), replay, None, 1).model_return == 0.0


def test_mixed_batch_ratio():
    task = tasks.make("inverted-pendulum")
    policy = MBPOPolicyPlayer(task, tiny_mbpo(real_ratio=0.05, batch_size=256))
    replay = ReplayBuffer(None)
    replay.add(trajectory_from(task, 300, reward=1.0))  # real rewards are 1
    real = policy.actions.real_data(replay)
    assert policy.mixed_batch(real)["reward"].eq(1).all()  # empty model buffer: all real
    n = 1000
    policy.model_buffer.resize(n)
    policy.model_buffer.add(torch.zeros(n, 4), torch.zeros(n, 1), torch.zeros(n), torch.zeros(n, 4),
                            torch.zeros(n, dtype=torch.bool))  # model rewards are 0
    batch = policy.mixed_batch(real)
    assert batch["obs"].shape == (256, 4)
    assert int(batch["reward"].sum()) == 12 and batch["reward"][:12].eq(1).all()


def test_actions_scaled_to_bounds_and_uniform_before_first_improve():
    task = tasks.make("inverted-pendulum")  # bounds [-3, 3]
    policy = MBPOPolicyPlayer(task, tiny_mbpo())
    obs = torch.zeros(2000, 4)
    explore = policy.act(obs)
    assert explore.abs().max() <= 3 and explore.std() == pytest.approx(3 / math.sqrt(3), rel=0.1)
    assert torch.allclose(policy.act(obs[:1], deterministic=True),
                          3 * torch.tanh(policy.sac.actor(obs[:1])[0]))
    policy.improve_calls = 1
    assert policy.act(obs).abs().max() < 3


# --- SAC -----------------------------------------------------------------------------------
def test_polyak_target_update_matches_formula():
    sac = SAC(3, 2, hidden_sizes=(8,), tau=0.1)
    with torch.no_grad():
        for p in sac.q.parameters():
            p.add_(torch.randn_like(p))
    before = [p.clone() for p in sac.q_target.parameters()]
    sac.update_targets()
    for target, old, source in zip(sac.q_target.parameters(), before, sac.q.parameters()):
        assert torch.allclose(target, 0.1 * source + 0.9 * old, atol=1e-6)


@pytest.mark.parametrize("target_entropy, direction", [(-50.0, -1), (50.0, 1)])
def test_temperature_moves_towards_target_entropy(target_entropy, direction):
    sac = SAC(3, 2, hidden_sizes=(16,), target_entropy=target_entropy)
    batch = (torch.randn(64, 3), torch.rand(64, 2) * 2 - 1, torch.randn(64), torch.randn(64, 3),
             torch.zeros(64, dtype=torch.bool))
    info = sac.update(*batch)
    # entropy (about 1 nat here) above a target of -50 lowers alpha; below +50 raises it
    assert math.copysign(1, info["alpha"].item() - 1.0) == direction
    assert sac.log_alpha.item() == pytest.approx(direction * 3e-4, rel=1e-3)  # one Adam step


def _constant_target_critics(sac, first, second):
    """Make the target critics output `first` and `second` whatever the input."""
    last = [m for m in sac.q_target.net.modules() if isinstance(m, EnsembleLinear)][-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias[0].fill_(first)
        last.bias[1].fill_(second)


def _loss(sac, obs, act, reward, nxt, done):
    g = sac.generator.get_state()
    loss = sac.critic_loss(obs, act, reward, nxt, done)
    sac.generator.set_state(g)
    return loss.item()


def test_critic_target_takes_the_smaller_target_critic():
    """Clipped double Q: with target critics at 1 and 5, the target is the one of two critics
    both at 1, not both at 5 (the order of the two must not matter)."""
    sac = SAC(2, 1, hidden_sizes=(8,), gamma=0.9)
    batch = (torch.randn(5, 2), torch.rand(5, 1), torch.randn(5), torch.randn(5, 2),
             torch.zeros(5, dtype=torch.bool))
    _constant_target_critics(sac, 1.0, 5.0)
    mixed = _loss(sac, *batch)
    _constant_target_critics(sac, 5.0, 1.0)
    assert _loss(sac, *batch) == pytest.approx(mixed, rel=1e-6)
    _constant_target_critics(sac, 1.0, 1.0)
    assert _loss(sac, *batch) == pytest.approx(mixed, rel=1e-6)
    _constant_target_critics(sac, 5.0, 5.0)
    assert _loss(sac, *batch) != pytest.approx(mixed, rel=1e-3)


def test_a_terminal_transition_does_not_bootstrap():
    """After a terminal step the target is the reward alone: neither the next state nor the
    target critics change the loss; without termination they do."""
    sac = SAC(2, 1, hidden_sizes=(8,), gamma=0.9)
    obs, act, reward = torch.randn(5, 2), torch.rand(5, 1), torch.randn(5)
    done = torch.ones(5, dtype=torch.bool)
    base = _loss(sac, obs, act, reward, torch.randn(5, 2), done)
    assert _loss(sac, obs, act, reward, 10 * torch.randn(5, 2), done) == pytest.approx(base, rel=1e-6)
    _constant_target_critics(sac, 100.0, 100.0)
    assert _loss(sac, obs, act, reward, torch.randn(5, 2), done) == pytest.approx(base, rel=1e-6)
    assert _loss(sac, obs, act, reward, torch.randn(5, 2), ~done) != pytest.approx(base, rel=1e-3)


# --- the whole game -------------------------------------------------------------------------
def test_tiny_game_on_inverted_pendulum():
    task = tasks.make("inverted-pendulum")
    policy, model = build_mbpo_players(task, tiny_mbpo(), TINY_MODEL, seed=0)
    game = Game(task, policy, model, PAL(initial_samples=200, samples_per_iteration=100,
                                         buffer_capacity=None, model_epochs=20), seed=0, eval_episodes=2)
    untrained = ProbabilisticEnsemble(task.obs_dim, task.act_dim, TINY_MODEL, seed=0)
    actor = [p.detach().clone() for p in policy.sac.actor.parameters()]
    reports = list(game.play(400))
    assert reports[0].improve_steps == 0 and reports[-1].improve_steps > 0
    assert set(reports[0].policy_extras) == set(reports[-1].policy_extras)  # stable CSV columns
    # both players moved: the model fits the collected data better than its initial self, and
    # SAC changed the actor
    data = game.replay.tensors()
    fitted = model.loss(data["obs"], data["act"], data["next_obs"]).mean()
    initial = untrained.loss(data["obs"], data["act"], data["next_obs"]).mean()
    assert fitted < 0.8 * initial
    assert any(not torch.equal(a, b) for a, b in zip(actor, policy.sac.actor.parameters()))


def test_works_with_the_deterministic_ensemble():
    task = tasks.make("inverted-pendulum")
    model = DynamicsEnsemble(4, 1, ModelConfig(hidden_sizes=(16,)))
    replay = ReplayBuffer(None)
    replay.add(trajectory_from(task, 100))
    model.fit(replay, epochs=1)
    policy = MBPOPolicyPlayer(task, tiny_mbpo(rollout_schedule=(0, 1, 3, 3)))
    report = policy.improve(model, replay, None, 1)
    assert report.extras["model_buffer_size"] > 0 and math.isfinite(report.model_return)
    with pytest.raises(Exception, match="reward head"):
        MBPOPolicyPlayer(task, tiny_mbpo(learned_reward=True)).improve(model, replay, None, 1)


def _roundtrip(state):
    blob = io.BytesIO()
    torch.save(state, blob)
    blob.seek(0)
    return torch.load(blob, weights_only=True)


def test_state_dict_round_trip():
    task = tasks.make("inverted-pendulum")
    policy, model = build_mbpo_players(task, tiny_mbpo(), TINY_MODEL, seed=0)
    replay = ReplayBuffer(None)
    for seed in range(2):
        replay.add(trajectory_from(task, 150, seed=seed))
        model.fit(replay, epochs=2)
        policy.improve(model, replay, None, 1)
    policy2, model2 = build_mbpo_players(task, tiny_mbpo(), TINY_MODEL, seed=1)
    policy2.load_state_dict(_roundtrip(policy.state_dict()))
    model2.load_state_dict(_roundtrip(model.state_dict()))
    assert torch.equal(model2.elites, model.elites)
    obs = torch.randn(7, 4)
    act = torch.rand(7, 1)
    assert torch.equal(model2.step(obs, act), model.step(obs, act))
    assert torch.equal(policy2.act(obs), policy.act(obs))  # same noise stream
    for key, value in policy.model_buffer.contents().items():
        assert torch.equal(policy2.model_buffer.contents()[key], value)
    # the next moves are identical too (optimizers, generators, counters all restored)
    replay.add(trajectory_from(task, 100, seed=5))
    a, b = model.fit(replay, epochs=2), model2.fit(replay, epochs=2)
    assert a.train_loss == b.train_loss
    ra, rb = policy.improve(model, replay, None, 1), policy2.improve(model2, replay, None, 1)
    assert ra.steps == rb.steps and ra.kl == rb.kl and ra.extras == rb.extras


def test_replay_total_added_counts_dropped_data_and_loads_old_checkpoints():
    buf = ReplayBuffer(150)
    task = tasks.make("inverted-pendulum")
    for seed in range(3):
        buf.add(trajectory_from(task, 100, seed=seed))
    assert len(buf) == 100 and buf.total_added == 300
    state = buf.state_dict()
    fresh = ReplayBuffer(None)
    fresh.load_state_dict(state)
    assert fresh.total_added == 300
    del state["total_added"]  # a checkpoint from before the counter
    fresh.load_state_dict(state)
    assert fresh.total_added == 100


def test_transition_ring_keeps_newest_and_resizes():
    from stackelberg.mbpo.model_buffer import TransitionRing

    ring = TransitionRing(1, 1, capacity=4)

    def add(values):
        x = torch.tensor(values, dtype=torch.float32)
        ring.add(x[:, None], x[:, None], x, x[:, None], torch.zeros(len(values), dtype=torch.bool))

    add([1, 2, 3])
    add([4, 5, 6])  # wraps: 3, 4, 5, 6 remain
    assert ring.contents()["reward"].tolist() == [3, 4, 5, 6]
    ring.resize(2)
    assert ring.contents()["reward"].tolist() == [5, 6]
    ring.resize(5)
    add([7, 8, 9, 10, 11, 12])  # more than capacity at once
    assert ring.contents()["reward"].tolist() == [8, 9, 10, 11, 12]
    sample = ring.sample(100, torch.Generator().manual_seed(0))["reward"]
    assert set(sample.tolist()) <= {8.0, 9.0, 10.0, 11.0, 12.0}


def test_fit_epochs_cap_and_min_steps():
    model = _constant_members([0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 0.0])
    buffer = random_replay(n=300)  # 240 training rows: one batch per epoch
    assert model.fit(buffer, epochs=3).steps == 3  # `epochs` is an upper bound
    # no early stop before min_steps gradient steps
    assert model.fit(buffer, epochs=100, min_steps=15).steps == 15


def test_tanh_log_prob_matches_change_of_variables():
    from torch.distributions import Normal, TransformedDistribution
    from torch.distributions.transforms import TanhTransform

    from stackelberg.mbpo.sac import tanh_log_prob

    mean, log_std = torch.tensor([[0.3, -1.0]]), torch.tensor([[-0.5, 0.2]])
    u = torch.tensor([[0.1, -2.0], [1.5, 0.4]])
    reference = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform()])
    expected = reference.log_prob(torch.tanh(u)).sum(-1)
    assert torch.allclose(tanh_log_prob(u, mean, log_std), expected, atol=1e-4)


def test_policy_best_and_snapshots_keep_the_policy_without_the_rollouts(tmp_path):
    """policy_best.pt and snapshots hold the acting state (no synthetic rollouts, which were
    44 MB on Hopper), the checkpoint keeps them for an exact resume, and the lean state acts
    as the full one does."""
    from stackelberg.runner.run_folder import RunFolder, RunRecorder, load_checkpoint

    task = tasks.make("inverted-pendulum")
    policy, model = build_mbpo_players(task, tiny_mbpo(), TINY_MODEL, seed=0)
    game = Game(task, policy, model, PAL(initial_samples=200, samples_per_iteration=100,
                                         buffer_capacity=None, model_epochs=2), seed=0, eval_episodes=1)
    recorder = RunRecorder(tmp_path, "# tiny\n", "tiny")
    for report in game.play(400):
        recorder.save_iteration(game, report, snapshot_every=1)
    folder = RunFolder(tmp_path)
    full = load_checkpoint(folder.checkpoint_file)["policy"]
    best = load_checkpoint(folder.best_policy_file)["policy"]
    snapshot = load_checkpoint(sorted(folder.path.glob("snapshots/iter_*.pt"))[-1])["policy"]
    assert len(full["model_buffer"]["obs"]) > 0
    assert len(best["model_buffer"]["obs"]) == 0 and len(snapshot["model_buffer"]["obs"]) == 0
    lean, whole = (build_mbpo_players(task, tiny_mbpo(), TINY_MODEL, seed=1)[0] for _ in range(2))
    lean.load_state_dict(_roundtrip(policy.acting_state_dict()))
    whole.load_state_dict(_roundtrip(policy.state_dict()))
    obs = torch.randn(5, task.obs_dim)
    assert torch.equal(lean.act(obs), whole.act(obs))
