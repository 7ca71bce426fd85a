"""Temporary: the model-env's branched rollouts against MBPO's own loop, bit for bit."""
import pytest
import torch

from stackelberg import tasks, DynamicsEnsemble, ModelConfig
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.mbpo.player import MBPOPolicyPlayer
from stackelberg.models.probabilistic import ProbabilisticEnsemble
from tests.test_mbpo import TINY_MODEL, tiny_mbpo


class Blows:
    """Every 3rd transition's prediction is NaN; the rest a deterministic ensemble's."""
    def __init__(self, inner):
        self.inner, self.ensemble_size = inner, inner.ensemble_size

    def step(self, obs, act):
        out = self.inner.step(obs, act).clone()
        out[:, ::3] = float("nan")
        return out


def replay_of(task, n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    obs = 0.02 * torch.randn(n, task.obs_dim, generator=g)
    if task.name == 'hopper':
        obs[:, 0] += 1.25
    act = torch.rand(n, task.act_dim, generator=g) * 2 - 1
    nxt = obs + 0.01 * torch.randn(n, task.obs_dim, generator=g)
    buf = ReplayBuffer(None)
    buf.add(Trajectory(obs, act, nxt, torch.ones(n), False))
    return buf


@pytest.mark.parametrize("kind,learned,task_name", [("prob", False, "hopper"), ("prob", True, "hopper"),
                                                    ("det", False, "hopper"), ("blow", False, "inverted-pendulum"),
                                                    ("prob", False, "inverted-pendulum")])
def test_same_as_old(kind, learned, task_name):
    task = tasks.make(task_name)
    replay = replay_of(task)
    if kind == "prob":
        model = ProbabilisticEnsemble(task.obs_dim, task.act_dim, TINY_MODEL, "cpu", 0)
    else:
        model = DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig(hidden_sizes=(16,)))
    model.fit(replay, epochs=2)
    if kind == "blow":
        model = Blows(model)
    outs = []
    for method in ("old_branched_rollouts", "branched_rollouts"):
        player = MBPOPolicyPlayer(task, tiny_mbpo(task_name, learned_reward=learned, rollout_chunk=37), seed=5)
        player.model_buffer.resize(10_000)
        result = getattr(player, method)(model, replay, 100, 6)
        outs.append((result, player.model_buffer.state_dict(), player.generator.get_state(),
                     player.noise.get_state()))
    (r0, b0, g0, n0), (r1, b1, g1, n1) = outs
    assert r0 == r1
    assert b0.keys() == b1.keys()
    for k in b0:
        assert torch.equal(torch.as_tensor(b0[k]), torch.as_tensor(b1[k])), k
    assert torch.equal(g0, g1) and torch.equal(n0, n1)
    print(kind, learned, task_name, r0, len(player.model_buffer))


@pytest.mark.parametrize("task_name", ["inverted-pendulum", "hopper", "dclaw-turn"])
def test_diagnostics_and_render_same_as_old(task_name):
    import numpy as np
    from stackelberg.analysis import diagnostics as d, render as r
    from stackelberg.npg.player import NPGPolicyPlayer
    task = tasks.make(task_name)
    replay = replay_of(task)
    model = DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig(hidden_sizes=(16,)))
    model.fit(replay, epochs=2)
    policy = NPGPolicyPlayer(task, seed=0)
    world = d.world_paths(task, policy, 3, 30, seed=1, action_clamp=0.5)
    assert torch.equal(d.open_loop_states(model, task, world), d.old_open_loop_states(model, world))
    for clamp in (None, 0.3):
        assert torch.equal(d.closed_loop_states(model, task, policy, world.states[:, 0], 30, clamp),
                           d.old_closed_loop_states(model, policy, world.states[:, 0], 30, clamp))
    n = int(world.valid[0].sum())
    obs, act = world.states[0, :n], world.actions[0, :n - 1]
    for loop in ("open", "closed"):
        for member in (0, 2):
            new = r._predict(task, model, policy, obs, act, loop, member, 0.3)
            old = r.old_predict(task, model, policy, obs, act, loop, member, 0.3)
            assert np.array_equal(new.states, old.states) and np.array_equal(new.finite, old.finite)
            assert (new.ended, new.success) == (old.ended, old.success)
            if loop == "open":
                assert np.array_equal(new.returns, old.returns)
            else:
                assert np.allclose(new.returns, old.returns, rtol=1e-6, atol=1e-6)
            print(task_name, loop, member, new.ended, new.returns[-1], old.returns[-1], np.abs(new.returns - old.returns).max())
