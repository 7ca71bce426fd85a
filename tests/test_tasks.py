"""Batched reward/termination functions equal the env's own on real transitions."""
import numpy as np
import pytest
import torch

from stackelberg import tasks


def rollout_transitions(task, steps: int, seed: int, action_scale: float = 1.0):
    env = task.make_env(seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        act = rng.uniform(task.act_low, task.act_high) * action_scale
        nxt, reward, terminated, truncated, _ = env.step(act)
        rows.append((obs, act, nxt, reward, terminated))
        obs = nxt
        if terminated or truncated:
            obs, _ = env.reset()
    stack = lambda i: torch.as_tensor(np.array([r[i] for r in rows]))
    return stack(0), stack(1), stack(2), stack(3), stack(4)


@pytest.mark.parametrize("name,steps", [("inverted-pendulum", 400), ("hopper", 1500)])
def test_reward_and_termination_match_env(name, steps):
    task = tasks.make(name)
    obs, act, nxt, reward, terminated = rollout_transitions(task, steps, seed=0)
    assert obs.shape[1] == task.obs_dim and act.shape[1] == task.act_dim
    assert terminated.any() and (~terminated).any()  # both branches exercised
    torch.testing.assert_close(task.termination_fn(obs, act, nxt), terminated)
    torch.testing.assert_close(task.reward_fn(obs, act, nxt), reward.double(), atol=1e-9, rtol=1e-9)


def test_reward_fn_clips_actions_like_the_env():
    task = tasks.make("hopper")
    obs, act, nxt, reward, _ = rollout_transitions(task, 50, seed=1)
    big = act * 7.0  # the env would see these clipped to [-1, 1]
    torch.testing.assert_close(task.reward_fn(obs, big.clamp(-1, 1), nxt), task.reward_fn(obs, big, nxt))


def test_functions_are_batched_over_leading_dims():
    task = tasks.make("hopper")
    obs, act, nxt, reward, terminated = rollout_transitions(task, 60, seed=2)
    r = task.reward_fn(obs.view(3, 20, -1), act.view(3, 20, -1), nxt.view(3, 20, -1))
    assert r.shape == (3, 20)
    torch.testing.assert_close(r.reshape(-1), reward)


def test_hopper_observation_carries_x_velocity():
    task = tasks.make("hopper")
    env = task.make_env(0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (12,) and obs[-1] == 0.0
    nxt, _, _, _, info = env.step(np.zeros(3))
    assert nxt[-1] == info["x_velocity"]


def test_unknown_task_lists_valid_names():
    with pytest.raises(tasks.UnknownTaskError, match="valid tasks: .*hopper.*inverted-pendulum"):
        tasks.make("hoper")
