"""Wrapped-angle coordinates: the change across +-pi is small, predictions stay wrapped, and a
model that knows the wrap learns a rotating world that a plain residual model gets wrong."""
import math

import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg.models.angles import angle_mask, apply_change, state_change, wrap_to_pi
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.runner.players import build_players
from stackelberg import Config, ModelConfig
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.models.probabilistic import ProbabilisticEnsemble


def test_wrap_matches_robel_convention_and_brute_force():
    x = torch.linspace(-20.0, 20.0, 4001, dtype=torch.float64)
    wrapped = wrap_to_pi(x)
    assert bool(((wrapped >= -math.pi) & (wrapped < math.pi)).all())
    turns = (x - wrapped) / (2 * math.pi)  # a whole number of turns apart
    torch.testing.assert_close(turns, turns.round(), atol=1e-9, rtol=0)


def test_state_change_round_trips_and_only_touches_masked_coordinates():
    gen = torch.Generator().manual_seed(0)
    obs = (torch.rand(500, 3, generator=gen) * 2 - 1) * math.pi
    nxt = (torch.rand(500, 3, generator=gen) * 2 - 1) * math.pi
    mask = angle_mask(3, [1])
    delta = state_change(obs, nxt, mask)
    assert bool((delta[:, 1].abs() <= math.pi).all())
    torch.testing.assert_close(delta[:, [0, 2]], (nxt - obs)[:, [0, 2]])
    torch.testing.assert_close(apply_change(obs, delta, mask), nxt, atol=1e-5, rtol=0)
    near = torch.tensor([[0.0, 3.1, 0.0]]), torch.tensor([[0.0, -3.1, 0.0]])
    assert state_change(*near, mask)[0, 1].item() == pytest.approx(2 * math.pi - 6.2, abs=1e-5)


def test_angle_mask_rejects_an_index_outside_the_observation():
    with pytest.raises(ValueError, match="outside the observation"):
        angle_mask(4, [4])


def rotating_world(n_traj: int = 12, steps: int = 50) -> ReplayBuffer:
    """obs = [angle]; the action turns it by 0.3 * a, and the world wraps the angle."""
    gen = torch.Generator().manual_seed(3)
    buffer = ReplayBuffer()
    for _ in range(n_traj):
        s = (torch.rand(1, generator=gen) * 2 - 1) * math.pi
        obs, act, nxt = [], [], []
        for _ in range(steps):
            a = torch.rand(1, generator=gen) * 2 - 1
            s2 = wrap_to_pi(s + 0.3 * a)
            obs.append(s); act.append(a); nxt.append(s2)
            s = s2
        buffer.add(Trajectory(torch.stack(obs), torch.stack(act), torch.stack(nxt), torch.zeros(steps), False))
    return buffer


@pytest.mark.parametrize("angle_dims, expect_accurate", [((0,), True), ((), False)])
def test_a_model_that_knows_the_wrap_predicts_across_it(angle_dims, expect_accurate):
    model = DynamicsEnsemble(1, 1, ModelConfig(ensemble_size=2, hidden_sizes=(32, 32)), seed=0,
                             angle_dims=angle_dims)
    model.fit(rotating_world(), epochs=60)
    obs = torch.tensor([[3.05], [-3.05]])
    act = torch.tensor([[1.0], [-1.0]])  # both cross the wrap
    truth = wrap_to_pi(obs + 0.3 * act)
    error = state_change(truth.expand(2, 2, 1), model.step(obs, act), angle_mask(1, [0])).abs()
    if expect_accurate:
        assert error.max().item() < 0.1
        assert bool((model.step(obs, act).abs() <= math.pi).all())
    else:  # the plain residual model regresses between the two branches
        assert error.max().item() > 1.0


def test_probabilistic_model_wraps_its_mean_and_samples():
    model = ProbabilisticEnsemble(2, 1, seed=0, angle_dims=(1,))
    obs = torch.tensor([[0.0, 3.1]] * 64)
    act = torch.zeros(64, 1)
    with torch.no_grad():
        last = model.linear_layers()[-1]
        last.weight.zero_(); last.bias.zero_()  # a constant output
        last.bias[:, 0, 2] = 0.5  # mean change of the angle: +0.5
    means = model.step(obs, act)[..., 1]
    torch.testing.assert_close(means, torch.full_like(means, 3.6 - 2 * math.pi), atol=1e-4, rtol=0)
    sampled, _ = model.sample(obs, act, torch.Generator().manual_seed(0))
    assert bool((sampled[:, 1].abs() <= math.pi).all())


@pytest.mark.parametrize("name", ["dclaw-turn", "dkitty-orient"])
def test_declared_angle_coordinates_are_wrapped_in_real_observations(name):
    task = tasks.make(name)
    assert task.angle_dims
    env = task.make_env(0)
    obs, _ = env.reset(seed=0)
    seen = [obs]
    for _ in range(30):
        obs, *_ = env.step(env.action_space.sample())
        seen.append(obs)
    angles = torch.as_tensor(np.stack(seen))[:, list(task.angle_dims)]
    assert bool((angles.abs() <= math.pi + 1e-6).all())


def test_wrap_angles_config_switch_reaches_the_model():
    task = tasks.make("dclaw-turn")
    config = Config()
    config.run.task = "dclaw-turn"
    _, model = build_players(config, task)
    assert model.angle_mask.nonzero().flatten().tolist() == [20]
    config.model.wrap_angles = False
    _, plain = build_players(config, task)
    assert not bool(plain.angle_mask.any())


def test_model_error_diagnostics_compare_wrapped_coordinates_with_wrap_around():
    from stackelberg.analysis.diagnostics import resolve_component

    world = torch.tensor([[1.0, 3.1]])
    model = torch.tensor([[1.0, -3.1]])  # 0.083 rad apart on the circle, 6.2 on the line
    full = resolve_component(None, obs_dim=2, angle_dims=(1,))
    assert full.distance(world, model).item() == pytest.approx(2 * math.pi - 6.2, abs=1e-5)
    picked = resolve_component([1], obs_dim=2, angle_dims=(1,))
    assert picked.distance(world, model).item() == pytest.approx(2 * math.pi - 6.2, abs=1e-5)
    plain = resolve_component(None, obs_dim=2)
    assert plain.distance(world, model).item() == pytest.approx(6.2, abs=1e-5)
