"""Correctness of the reacher-7dof, pen, ant and halfcheetah tasks: dims, reward/termination parity with the
real envs, the reacher's perturbation hooks and the success definitions."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from stackelberg.tasks.ant import ant
from stackelberg.tasks.gym_tasks import halfcheetah
from stackelberg.tasks.pen import MIN_SUCCESS_STEPS, goal_achieved, pen, pen_noterm, pen_vel
from stackelberg.tasks.reacher import GOAL_HIGH, GOAL_LOW, NOMINAL_FOREARM, Reacher7DOFEnv, reacher_7dof

FACTORIES = {"reacher-7dof": reacher_7dof, "pen": pen, "pen-noterm": pen_noterm, "pen-vel": pen_vel,
             "ant": ant, "halfcheetah": halfcheetah}
DIMS = {"reacher-7dof": (20, 7), "pen": (45, 24), "pen-noterm": (45, 24), "pen-vel": (69, 24),
        "ant": (28, 8), "halfcheetah": (18, 6)}


def _rollout(task, seed: int, steps: int, act_scale: float = 1.0):
    """Random transitions across episodes: stacked (obs, act, next_obs, reward, terminated)."""
    env = task.make_env(seed)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    rows = []
    for _ in range(steps):
        a = np.clip(act_scale * rng.uniform(-1, 1, task.act_dim), task.act_low, task.act_high)
        nxt, r, term, trunc, _ = env.step(a)
        rows.append((obs, a, nxt, r, term))
        obs = env.reset()[0] if term or trunc else nxt
    env.close()
    cols = list(zip(*rows))
    o, a, n = (torch.as_tensor(np.array(c), dtype=torch.float64) for c in cols[:3])
    return o, a, n, torch.tensor(cols[3], dtype=torch.float64), torch.tensor(cols[4])


def _check_parity(task, o, a, n, r, term):
    assert torch.allclose(task.reward_fn(o, a, n), r, atol=1e-9, rtol=0)
    assert torch.equal(task.termination_fn(o, a, n), term)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_dims_and_spaces(name):
    task = FACTORIES[name]()
    obs_dim, act_dim = DIMS[name]
    assert task.name == name and (task.obs_dim, task.act_dim) == (obs_dim, act_dim)
    env = task.make_env(0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (obs_dim,) and env.observation_space.shape == (obs_dim,)
    assert env.action_space.shape == (act_dim,)
    np.testing.assert_array_equal(env.action_space.low, task.act_low)
    np.testing.assert_array_equal(env.action_space.high, task.act_high)
    assert env.spec is None or env.spec.max_episode_steps in (None, task.horizon)
    env.close()


@pytest.mark.parametrize("name", ["reacher-7dof", "pen-noterm", "halfcheetah"])
def test_truncates_at_horizon_without_termination(name):
    task = FACTORIES[name]()
    env = task.make_env(1)
    for t in range(task.horizon):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        assert not term
        assert trunc == (t == task.horizon - 1)
    env.close()


def test_ant_time_limit_is_1000():
    env = ant().make_env(0)
    assert env.spec.max_episode_steps == 1000
    env.close()


@pytest.mark.parametrize("name,steps", [("reacher-7dof", 200), ("pen", 250), ("pen-noterm", 250),
                                        ("pen-vel", 250),
                                        ("ant", 400), ("halfcheetah", 400)])
def test_reward_and_termination_parity(name, steps):
    task = FACTORIES[name]()
    o, a, n, r, term = _rollout(task, seed=3, steps=steps)
    _check_parity(task, o, a, n, r, term)
    # arbitrary leading dims
    shaped = [x[: steps // 4 * 4].reshape(2, -1, 2, x.shape[-1]) for x in (o, a, n)]
    assert task.reward_fn(*shaped).shape == (2, steps // 4, 2)
    assert task.termination_fn(*shaped).shape == (2, steps // 4, 2)
    assert torch.equal(task.reward_fn(*shaped).flatten(), task.reward_fn(o, a, n)[: steps // 4 * 4])
    assert task.reward_fn(*(x.float() for x in shaped)).dtype == torch.float32


def test_ant_terminations_match_env():
    """Random walking rarely falls, so throw the torso out of [0.2, 1.0] both ways and step.
    (Placing it low is not enough: contacts push it back up within one step.)"""
    task = ant()
    env = task.make_env(5)
    base = env.unwrapped
    rows = []
    for z, vz in ((None, -30.0), (None, -40.0), (0.5, 0.0), (None, 0.0), (1.5, 0.0), (2.0, 0.0)):
        env.reset(seed=5)
        qpos, qvel = base.data.qpos.copy(), base.data.qvel.copy()
        qpos[2] = qpos[2] if z is None else z
        qvel[2] = vz
        base.set_state(qpos, qvel)
        obs = np.append(base._get_obs(), 0.0)
        a = np.full(8, 0.3)
        nxt, r, term, _, _ = env.step(a)
        rows.append((obs, a, nxt, r, term))
    cols = list(zip(*rows))
    o, a, n = (torch.as_tensor(np.array(c), dtype=torch.float64) for c in cols[:3])
    r, term = torch.tensor(cols[3], dtype=torch.float64), torch.tensor(cols[4])
    assert term.tolist() == [True, True, False, False, True, True]
    assert (n[:2, 0] < 0.2).all() and (n[4:, 0] > 1.0).all()
    _check_parity(task, o, a, n, r, term)
    env.close()


def test_ant_reward_clips_actions():
    task = ant()
    o, a, n, _, _ = _rollout(task, seed=4, steps=20)
    big = 3.0 * torch.sign(a)
    assert torch.allclose(task.reward_fn(o, big, n), task.reward_fn(o, torch.sign(a), n))
    # healthy bonus and ctrl cost are really there
    expected = n[:, 27] + 1.0 - 0.5 * 8  # |a| = 1 everywhere, all healthy after 20 steps
    assert torch.allclose(task.reward_fn(o, torch.sign(a), n), expected)


def test_halfcheetah_reward_is_the_observed_velocity_minus_ctrl_cost():
    """Every term is there: the appended x-velocity is the env's own, and the control cost
    0.1 |a|^2 uses the action the env saw (clipped to [-1, 1])."""
    task = halfcheetah()
    o, a, n, r, term = _rollout(task, seed=6, steps=30)
    env = task.make_env(0)
    env.reset(seed=0)
    nxt, _, _, _, info = env.step(np.full(6, 0.5))
    assert nxt[17] == info["x_velocity"] != 0.0
    env.close()
    assert torch.allclose(task.reward_fn(o, 3.0 * torch.sign(a), n), n[:, 17] - 0.6)
    assert not term.any() and not task.termination_fn(o, a, n).any()


def test_reacher_env_clips_actions():
    env_a, env_b = (reacher_7dof().make_env(0) for _ in range(2))
    a = np.linspace(-1, 1, 7)
    oa = env_a.step(3.0 * a)[0]
    ob = env_b.step(np.clip(3.0 * a, -1, 1))[0]
    np.testing.assert_array_equal(oa, ob)


@pytest.mark.parametrize("name", list(FACTORIES))
def test_deterministic_under_seed(name):
    task = FACTORIES[name]()

    def run(seed: int) -> np.ndarray:
        env = task.make_env(seed)
        rng = np.random.default_rng(0)
        obs = [env.reset(seed=seed)[0]]
        for _ in range(15):
            obs.append(env.step(rng.uniform(-1, 1, task.act_dim))[0])
        env.close()
        return np.array(obs)

    np.testing.assert_array_equal(run(7), run(7))
    assert not np.array_equal(run(7)[0], run(8)[0])


# --- reacher specifics ---------------------------------------------------------------------

def test_reacher_reset_state_and_goal_box():
    env = Reacher7DOFEnv()
    goals = []
    for i in range(200):
        obs, info = env.reset(seed=i)
        np.testing.assert_array_equal(obs[:14], 0.0)
        np.testing.assert_allclose(obs[14:17], [0.821, -0.6, 0.0], atol=1e-12)
        assert info["distance"] == pytest.approx(np.linalg.norm(obs[14:17] - obs[17:20]))
        goals.append(obs[17:20])
    goals = np.array(goals)
    assert np.all(goals >= GOAL_LOW) and np.all(goals <= GOAL_HIGH)
    # the box is filled, not just a corner
    assert np.all(goals.min(0) < np.array(GOAL_LOW) + 0.1)
    assert np.all(goals.max(0) > np.array(GOAL_HIGH) - 0.1)


def test_reacher_set_goal_box_changes_sampling():
    env = Reacher7DOFEnv()
    low, high = (0.4, 0.25, 0.1), (0.5, 0.35, 0.2)
    env.set_goal_box(low, high)
    env.reset(seed=0)
    goals = np.array([env.reset()[0][17:20] for _ in range(50)])
    assert np.all(goals >= low) and np.all(goals <= high)
    assert goals.std(0).min() > 0.01  # still random within the new box
    with pytest.raises(ValueError):
        env.set_goal_box((0.1, 0, 0), (0.0, 1, 1))
    # the factory argument gives the same world from the start
    obs, _ = reacher_7dof(goal_low=low, goal_high=high).make_env(0).reset(seed=1)
    assert np.all(obs[17:20] >= low) and np.all(obs[17:20] <= high)


def test_reacher_forearm_length_changes_kinematics_and_dynamics():
    nominal, longer = Reacher7DOFEnv(), Reacher7DOFEnv(forearm_length=1.3 * NOMINAL_FOREARM)
    o_nom, o_long = nominal.reset(seed=0)[0], longer.reset(seed=0)[0]
    assert o_nom[14] == pytest.approx(0.821, abs=1e-9)
    assert o_long[14] == pytest.approx(0.5 + 1.3 * 0.321, abs=1e-9)  # ~0.917
    np.testing.assert_array_equal(o_nom[17:20], o_long[17:20])  # same goal for the same seed
    assert longer.model.body_mass.sum() > nominal.model.body_mass.sum() + 0.5  # fa recompiled

    # same state + action -> different next joint state
    rng = np.random.default_rng(0)
    state = (rng.uniform(-0.5, 0.0, 7), rng.uniform(-1, 1, 7))
    a = rng.uniform(-1, 1, 7)
    nxt = []
    for env in (nominal, longer):
        env.data.qpos[:], env.data.qvel[:] = state
        nxt.append(env.step(a)[0])
    assert np.abs(nxt[0][:14] - nxt[1][:14]).max() > 1e-4


def test_reacher_set_forearm_length_keeps_state_and_goal():
    env = Reacher7DOFEnv()
    env.reset(seed=2)
    for _ in range(5):
        env.step(np.full(7, 0.5))
    before = env._obs().copy()
    fresh = Reacher7DOFEnv(forearm_length=0.4)
    env.set_forearm_length(0.4)
    assert env.forearm_length == 0.4
    after = env._obs()
    np.testing.assert_array_equal(after[:14], before[:14])
    np.testing.assert_array_equal(after[17:20], before[17:20])
    assert np.linalg.norm(after[14:17] - before[14:17]) > 0.01
    np.testing.assert_array_equal(env.model.body_mass, fresh.model.body_mass)
    np.testing.assert_array_equal(env.model.body_inertia, fresh.model.body_inertia)
    # a reset after the change works and keeps the new arm
    obs, _ = env.reset(seed=0)
    assert obs[14] == pytest.approx(0.5 + 0.4)


def test_reacher_observed_fingertip_matches_observed_joints():
    """obs[14:17] is the fingertip of obs[0:7] (mj_step alone would leave it a substep behind)."""
    import mujoco

    env = Reacher7DOFEnv()
    env.reset(seed=0)
    probe = mujoco.MjData(env.model)
    for _ in range(5):
        obs = env.step(np.ones(7))[0]
        probe.qpos[:] = obs[:7]
        mujoco.mj_kinematics(env.model, probe)
        np.testing.assert_allclose(obs[14:17], probe.site_xpos[env._finger], atol=1e-12)


def test_reacher_success_fn():
    task = reacher_7dof()
    ep = torch.zeros(3, 51, 20)
    ep[..., 14] = 1.0  # far from the goal at every step ...
    ep[0, -1, 14] = 0.04  # ... except episode 0's last step
    ep[1, -1, 14] = 0.06
    ep[2, 10, 14] = 0.0  # reached mid-episode only: not a success
    assert task.success_fn(ep).tolist() == [True, False, False]
    assert task.success_fn(ep.reshape(3, 1, 51, 20)).shape == (3, 1)


def test_reacher_reaching_is_rewarded():
    """A goal at the reset fingertip has reward ~0; the reward gets worse away from it."""
    task = reacher_7dof()
    n = torch.zeros(2, 20)
    n[:, 14:17] = torch.tensor([0.821, -0.6, 0.0])
    n[0, 17:20] = n[0, 14:17]
    n[1, 17:20] = torch.tensor([0.821, -0.6, 0.3])
    r = task.reward_fn(n, torch.zeros(2, 7), n)
    assert r[0] == 0.0 and r[1] == pytest.approx(-0.3 - 5 * 0.3)


# --- pen specifics -------------------------------------------------------------------------

def _pen_episode(achieved_steps: list[int], length: int = 100) -> torch.Tensor:
    """Synthetic episode obs: goal achieved exactly at the given indices of obs[0..length]."""
    ep = torch.zeros(length + 1, 45)
    ep[:, 33] = 1.0  # pen along x
    ep[:, 36] = -1.0  # goal along -x: sim = -1
    ep[:, 39] = 0.2  # 20 cm away
    for i in achieved_steps:
        ep[i, 36], ep[i, 39] = 1.0, 0.01
    return ep


def test_pen_success_needs_more_than_20_steps():
    task = pen()
    assert MIN_SUCCESS_STEPS == 20
    eps = torch.stack([
        _pen_episode(list(range(1, 21))),  # exactly 20 steps -> fail
        _pen_episode(list(range(1, 22))),  # 21 steps -> success
        _pen_episode([0] + list(range(1, 21))),  # the reset obs does not count
        _pen_episode(list(range(80, 101))),  # 21 steps at the end -> success
    ])
    assert task.success_fn(eps).tolist() == [False, True, False, True]
    assert goal_achieved(eps).sum().item() == 20 + 21 + 21 + 21


@pytest.mark.parametrize("factory", [pen, pen_noterm, pen_vel])
def test_pen_bonus_and_drop_terms_match_env(factory):
    """Random actions never reach the goal, so align the goal with the pen (every bonus branch
    then occurs as the pen drifts) and drop the pen below z = 0.075 (the -5 penalty; `pen`
    ends the episode there, as pen-v0 did, `pen-noterm` does not)."""
    import mujoco

    task = factory()
    env = task.make_env(0)
    base = env.unwrapped
    obs = base._get_obs()
    quat = np.zeros(4)
    mujoco.mju_quatZ2Vec(quat, obs[33:36].copy())  # the goal's direction is its z axis
    base.model.body_quat[base.target_obj_body_id] = quat
    mujoco.mj_forward(base.model, base.data)
    rows, flags = [], []
    for t in range(60):
        if t == 50:  # drop the pen through the hand (the pen's OBJTx slide points down in world)
            qpos = base.data.qpos.copy()
            qpos[24] = 0.2
            base.set_state(qpos, base.data.qvel.copy())
        obs = base._get_obs()
        a = np.zeros(24)
        nxt, r, term, _, info = env.step(a)
        rows.append((obs, a, nxt, r, term))
        flags.append(bool(info["success"]))
    cols = list(zip(*rows))
    o, a, n = (torch.as_tensor(np.array(c), dtype=torch.float64) for c in cols[:3])
    r, term = torch.tensor(cols[3], dtype=torch.float64), torch.tensor(cols[4])
    assert goal_achieved(n).tolist() == flags and any(flags) and not all(flags)
    assert (r > 55).any() and ((r > 5) & (r < 15)).any() and (r < 0).any()
    assert (n[:, 26] < 0.075).any()
    dropped = n[:, 26] < 0.075
    assert term.tolist() == (dropped.tolist() if task.name != "pen-noterm" else [False] * 60)
    assert not dropped[:50].any() and dropped[50:].all()
    _check_parity(task, o, a, n, r, term)
    env.close()


def test_pen_vel_observes_pen_then_the_hands_joint_velocities():
    """pen-vel's obs is pen's 45 dims (the same world, seeded alike) then qvel[0:24], step by step."""
    plain, with_vel = pen().make_env(4), pen_vel().make_env(4)
    first, _ = plain.reset(seed=4)
    second, _ = with_vel.reset(seed=4)
    np.testing.assert_array_equal(second[:45], first)
    np.testing.assert_array_equal(second[45:], np.zeros(24))
    rng = np.random.default_rng(4)
    for _ in range(10):
        a = rng.uniform(-1, 1, 24)
        first, r1, *_ = plain.step(a)
        second, r2, *_ = with_vel.step(a)
        np.testing.assert_array_equal(second[:45], first)
        np.testing.assert_array_equal(second[45:], with_vel.unwrapped.data.qvel[:24])
        assert r1 == r2
    assert np.abs(second[45:]).max() > 0.1  # the fingers do move
    plain.close(); with_vel.close()
