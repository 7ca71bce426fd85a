"""History in the observation: the world's windows line up with its transitions (no off-by-one,
episode starts padded, one definition with `core.history`), a restore mid-episode across a
switch continues the same windows, and the Markov model (M2PO's) reads only o_t, a_t and shifts
the window with the step it predicts."""
from __future__ import annotations

import copy

import mujoco
import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg.core.buffers import ReplayBuffer, Trajectory
from stackelberg.core.history import HistoryLayout, history_windows, step_features
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.models.probabilistic import ProbabilisticEnsemble
from stackelberg.tasks.gym_tasks import inverted_pendulum
from stackelberg.tasks.history import with_history
from stackelberg.tasks.switching_cheetah import halfcheetah_fwd_bwd
from stackelberg.worlds.collect import run_episode

L = 4


def random_policy(task, seed: int):
    rng = np.random.default_rng(seed)
    return lambda obs: torch.as_tensor(rng.uniform(task.act_low, task.act_high), dtype=torch.float32)


def test_registered_history_tasks_carry_the_layout():
    task = tasks.make("halfcheetah-fwd-bwd+h10")
    assert task.history == HistoryLayout(18, 6, 10)
    assert task.obs_dim == 18 + 10 * (18 + 6 + 1) == task.history.augmented_dim
    assert task.learned_reward
    with pytest.raises(ValueError, match="already carries a history"):
        with_history(task, 3)


def test_world_windows_equal_the_replay_windows_of_the_same_transitions():
    """Episodes of different lengths (the pendulum falls), actions inside the bounds (the
    window holds what the world received): every observation's window is the window
    `history_windows` computes from the stored (o, a, r), and the next observation's window is
    the one through the step (`through=True`)."""
    task = with_history(inverted_pendulum(), L)
    layout = task.history
    env = task.make_env(0)
    env.reset(seed=3)
    replay = ReplayBuffer()
    act = random_policy(task, 0)
    for _ in range(4):
        replay.add(run_episode(env, act, task))
    lengths = replay.trajectory_lengths()
    assert len(set(lengths)) > 1 and min(lengths) >= 2 and max(lengths) > L  # padding, full windows
    data = replay.tensors()
    steps = step_features(layout.observed(data["obs"]), data["act"], data["reward"])
    before = history_windows(steps, lengths, L)
    through = history_windows(steps, lengths, L, through=True)
    torch.testing.assert_close(layout.window(data["obs"]), before.steps)
    torch.testing.assert_close(layout.window(data["next_obs"]), through.steps)
    # an episode's first observation has an empty window; its second holds exactly step 0
    first = layout.window(data["obs"][lengths[0]])
    assert (first == 0).all()
    second = layout.window(data["obs"][lengths[0] + 1])
    assert (second[:-1] == 0).all()
    torch.testing.assert_close(second[-1], steps[lengths[0]])
    # reward and termination read the world's own part
    torch.testing.assert_close(task.reward_fn(data["obs"], data["act"], data["next_obs"]),
                               data["reward"])


def snapshot(env) -> dict:
    world = env.unwrapped
    limit = env
    while not hasattr(limit, "_elapsed_steps"):
        limit = limit.env
    return {"data": copy.copy(world.data), "rng": copy.deepcopy(world.np_random.bit_generator.state),
            "elapsed": limit._elapsed_steps, "world": env.world_state(), "limit": limit}


def restore(env, snap: dict, with_world: bool) -> None:
    world = env.unwrapped
    mujoco.mj_copyData(world.data, world.model, snap["data"])
    world.np_random.bit_generator.state = snap["rng"]
    limit = env
    while not hasattr(limit, "_elapsed_steps"):
        limit = limit.env
    limit._elapsed_steps = snap["elapsed"]
    if with_world:
        env.load_world_state(snap["world"])


def test_restore_mid_episode_across_a_switch_continues_the_same_windows():
    """Stop 3 steps before a switch (every 10 steps here), restore into a fresh env: the same
    observations, windows included, past the switch. Without the world's state the hidden
    direction, the clock and the window differ, so the check can fail."""
    task = with_history(halfcheetah_fwd_bwd(switch_seconds=0.5), L)
    source = task.make_env(0)
    source.reset(seed=5)
    rng = np.random.default_rng(1)
    for a in rng.uniform(-1, 1, (7, 6)):
        source.step(a)
    snap = snapshot(source)
    after = rng.uniform(-1, 1, (8, 6))
    expected = [source.step(a)[:2] for a in after]
    assert source.world_state()["world"]["clock"] == 5  # crossed the switch at 10
    for with_world in (True, False):
        target = task.make_env(1)
        target.reset(seed=77)
        restore(target, snap, with_world)
        got = [target.step(a)[:2] for a in after]
        same = all(np.array_equal(g[0], e[0]) and g[1] == e[1] for g, e in zip(got, expected))
        assert same is with_world


def markov_model(layout: HistoryLayout, seed: int = 0) -> ProbabilisticEnsemble:
    config = ProbabilisticModelConfig(ensemble_size=3, num_elites=2, hidden_sizes=(16,),
                                      weight_decays=(0.0, 0.0))
    return ProbabilisticEnsemble(layout.augmented_dim, layout.act_dim, config, seed=seed,
                                 history=layout)


def test_markov_model_ignores_the_history_and_shifts_it_with_its_own_step():
    layout = HistoryLayout(3, 2, L)
    model = markov_model(layout)
    gen = torch.Generator().manual_seed(0)
    obs = layout.augment(torch.randn(5, 3), torch.randn(5, L, layout.step_dim))
    other = layout.augment(layout.observed(obs), torch.randn(5, L, layout.step_dim))
    act = torch.randn(5, 2)
    # the mean prediction of o_{t+1} and of the reward does not depend on the window
    torch.testing.assert_close(layout.observed(model.step(obs, act)), layout.observed(model.step(other, act)))
    mean, _ = model.predict(obs, act)
    mean_other, _ = model.predict(other, act)
    torch.testing.assert_close(mean, mean_other)
    # a sample: o_{t+1} from the model, the window dropped its oldest step and ended with
    # (o_t, a_t, the sampled reward)
    nxt, reward = model.sample(obs, act, gen)
    assert nxt.shape == obs.shape and reward.shape == (5,)
    window, new_window = layout.window(obs), layout.window(nxt)
    torch.testing.assert_close(new_window[:, :-1], window[:, 1:])
    torch.testing.assert_close(new_window[:, -1], step_features(layout.observed(obs), act, reward))
    gen.manual_seed(0)
    nxt_other, reward_other = model.sample(other, act, gen)
    torch.testing.assert_close(layout.observed(nxt_other), layout.observed(nxt))
    torch.testing.assert_close(reward_other, reward)


def test_markov_model_fits_only_the_observed_change():
    """The fit's targets are [r, o' - o]: a buffer whose windows are noise fits as well as one
    with zero windows (same seed, same o, a, r): the window never reaches the loss."""
    layout = HistoryLayout(2, 1, 2)
    g = torch.Generator().manual_seed(0)
    o = torch.randn(60, 2, generator=g)
    a = torch.randn(60, 1, generator=g)
    nxt = o + 0.1 * a
    r = o.sum(-1)
    losses = []
    for noise in (0.0, 5.0):
        replay = ReplayBuffer()
        windows = noise * torch.randn(60, 2, layout.step_dim, generator=g)
        replay.add(Trajectory(obs=layout.augment(o, windows), act=a,
                              next_obs=layout.augment(nxt, windows), reward=r, terminated=False))
        model = markov_model(layout)
        losses.append(model.fit(replay, epochs=3).train_loss)
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
