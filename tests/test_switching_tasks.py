"""Worlds whose hidden task switches: dimensions, the switch clock, what each switch changes,
exact rewards where the task makes them exact, and a mid-episode restore across a switch."""
from __future__ import annotations

import copy

import gymnasium as gym
import mujoco
import numpy as np
import pytest
import torch

from stackelberg import PAL, DynamicsEnsemble, Game, NPGPolicyPlayer, tasks
from stackelberg.models.config import ModelConfig
from stackelberg.npg.config import NPGConfig, PolicyConfig
from stackelberg.tasks.switching_ant import LEG_MOTORS, ant_crippled_leg
from stackelberg.tasks.switching_cheetah import halfcheetah_fwd_bwd
from stackelberg.tasks.switching_humanoid import humanoid_direc
from stackelberg.tasks.switching_pier import BACK, BLOCK_LENGTH, N_BLOCKS, halfcheetah_pier
from stackelberg.tasks.switching_walker import NOMINAL_FLOOR_FRICTION, walker2d_randomparams
from stackelberg.worlds.perturbations import apply_perturbation, parse_perturbation

# name: (obs_dim, act_dim, dt, steps per 15 s, learned reward)
WORLDS = {
    "halfcheetah-fwd-bwd": (18, 6, 0.05, 300, True),
    "halfcheetah-pier": (18, 6, 0.05, 300, False),
    "ant-fwd-bwd": (28, 8, 0.05, 300, True),
    "ant-crippled-leg": (28, 8, 0.05, 300, False),
    "walker2d-randomparams": (18, 6, 0.008, 1875, False),
    "humanoid-direc": (46, 17, 0.015, 1000, True),
}
EXACT = [name for name, spec in WORLDS.items() if not spec[4]]


def run(env: gym.Env, actions: np.ndarray):
    """Step through `actions` (no resets); observations, rewards, infos, terminated flags."""
    out = [env.step(a) for a in actions]
    return (np.array([o[0] for o in out]), np.array([o[1] for o in out]), [o[4] for o in out],
            np.array([o[2] for o in out]))


def time_limit(env: gym.Env) -> gym.wrappers.TimeLimit:
    while not isinstance(env, gym.wrappers.TimeLimit):
        env = env.env
    return env


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_dims_dt_and_steps_per_switch(name):
    obs_dim, act_dim, dt, steps, learned = WORLDS[name]
    task = tasks.make(name)
    env = task.make_env(0)
    obs, _ = env.reset(seed=0)
    assert (task.obs_dim, task.act_dim, obs.shape) == (obs_dim, act_dim, (obs_dim,))
    assert env.unwrapped.dt == pytest.approx(dt)
    assert env.switch_steps == steps == round(15.0 / dt)
    assert task.learned_reward is learned
    if learned:  # no function of (obs, act, next_obs) is the reward: it says so with NaN
        x = torch.zeros(3, obs_dim)
        assert torch.isnan(task.reward_fn(x, torch.zeros(3, act_dim), x)).all()


def test_switches_every_300_steps_and_the_clock_restarts_at_reset():
    env = halfcheetah_fwd_bwd().make_env(0)
    env.reset(seed=3)
    switches = []
    original = env._switch

    def counting_switch():
        switches.append(env.clock)
        original()
    env._switch = counting_switch
    _, _, infos, _ = run(env, np.zeros((1000, 6)))
    assert len(switches) == 3 and env.clock == 100  # after steps 300, 600, 900
    hidden = np.array([i["hidden_task"][0] for i in infos])
    for start in (0, 300, 600, 900):  # one task per 15 s segment
        assert np.all(hidden[start:start + 300] == hidden[start])
    assert switches == [300, 300, 300]  # the clock stood at 15 s each time
    # a reset mid-segment draws a task and restarts the clock: the next switch is 300 steps on
    env.reset()
    assert len(switches) == 4 and env.clock == 0
    run(env, np.zeros((299, 6)))
    assert len(switches) == 4
    run(env, np.zeros((1, 6)))
    assert len(switches) == 5 and env.clock == 0


def test_hidden_tasks_change_only_at_switches_and_come_from_the_seed():
    env = walker2d_randomparams(switch_seconds=0.2).make_env(0)  # 25 steps
    env.reset(seed=1)
    assert env.switch_steps == 25
    _, _, infos, _ = run(env, np.zeros((100, 6)))  # a fall ends nothing here: no reset
    hidden = np.array([i["hidden_task"] for i in infos])
    changed = np.flatnonzero(np.any(hidden[1:] != hidden[:-1], axis=1)) + 1
    assert changed.tolist() == [25, 50, 75]
    assert np.all((hidden > 1.5**-3) & (hidden < 1.5**3))
    again = walker2d_randomparams(switch_seconds=0.2).make_env(5)
    again.reset(seed=1)
    _, _, infos_again, _ = run(again, np.zeros((100, 6)))
    np.testing.assert_array_equal(hidden, np.array([i["hidden_task"] for i in infos_again]))


def test_one_task_per_episode_without_a_switch_interval():
    env = halfcheetah_fwd_bwd(switch_seconds=None).make_env(0)
    env.reset(seed=0)
    _, _, infos, _ = run(env, np.zeros((1000, 6)))
    assert env.switch_steps is None and len({i["hidden_task"][0] for i in infos}) == 1
    with pytest.raises(ValueError, match="switch_seconds must be a positive"):
        halfcheetah_fwd_bwd(switch_seconds=0.0).make_env(0)


@pytest.mark.parametrize("name,forward_weight,x_vel", [
    ("halfcheetah-fwd-bwd", 1.0, 17), ("ant-fwd-bwd", 1.0, 27), ("humanoid-direc", 1.25, 45)])
def test_direction_flips_the_sign_of_the_velocity_reward_only(name, forward_weight, x_vel):
    """Same start, same actions, d = +1 against d = -1: identical motion; the rewards differ by
    exactly 2 * w * x_velocity, and their sum is the direction-free rest of the reward."""
    task = tasks.make(name)
    actions = np.random.default_rng(0).uniform(task.act_low, task.act_high, (40, task.act_dim))
    runs = {}
    for d in (1.0, -1.0):
        env = task.make_env(0)
        env.reset(seed=7)
        env.load_world_state({"hidden": [d], "clock": 0})
        runs[d] = run(env, actions)
    obs_p, rew_p, _, _ = runs[1.0]
    obs_m, rew_m, _, _ = runs[-1.0]
    np.testing.assert_array_equal(obs_p, obs_m)
    np.testing.assert_allclose(rew_p - rew_m, 2 * forward_weight * obs_p[:, x_vel], rtol=0, atol=1e-9)
    assert np.abs(obs_p[:, x_vel]).max() > 0.05  # the check above had a velocity to see


def test_fwd_bwd_reward_across_a_switch_follows_the_direction_in_force():
    env = halfcheetah_fwd_bwd(switch_seconds=0.5).make_env(0)  # 10 steps
    env.reset(seed=0)
    actions = np.random.default_rng(1).uniform(-1, 1, (200, 6))
    obs, reward, infos, _ = run(env, actions)
    d = np.array([i["hidden_task"][0] for i in infos])
    assert set(d) == {1.0, -1.0}
    expected = d * obs[:, 17] - 0.1 * (actions**2).sum(axis=1)
    np.testing.assert_allclose(reward, expected, rtol=0, atol=1e-9)
    flips = np.flatnonzero(d[1:] != d[:-1]) + 1
    assert len(flips) > 0 and np.all(flips % 10 == 0)


@pytest.mark.parametrize("name", EXACT)
def test_exact_reward_and_termination_parity_across_switches(name):
    """Where only the dynamics are hidden, the task's functions equal the env on real
    transitions, switches included (the task switches every 0.5 s here)."""
    factory = {"halfcheetah-pier": halfcheetah_pier, "ant-crippled-leg": ant_crippled_leg,
               "walker2d-randomparams": walker2d_randomparams}[name]
    task = factory(switch_seconds=0.5)
    env = task.make_env(0)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    rows, hidden = [], []
    for _ in range(1200):
        act = rng.uniform(task.act_low, task.act_high)
        nxt, reward, terminated, truncated, info = env.step(act)
        rows.append((obs, act, nxt, reward, terminated))
        hidden.append(info["hidden_task"])
        obs = nxt
        if terminated or truncated:
            obs, _ = env.reset()
    changes = np.any(np.diff(np.array(hidden), axis=0) != 0, axis=1).sum()
    assert changes > 10  # many tasks were in force
    o, a, n, r, t = (torch.as_tensor(np.array([row[i] for row in rows])) for i in range(5))
    torch.testing.assert_close(task.reward_fn(o, a, n), r.double(), atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(task.termination_fn(o, a, n), t)
    if name == "walker2d-randomparams":
        assert t.any() and (~t).any()


@pytest.mark.parametrize("name", ["ant-fwd-bwd", "humanoid-direc"])
def test_termination_parity_where_the_reward_is_learned(name):
    """The hidden direction changes the reward only: termination stays exact."""
    task = tasks.make(name)
    env = task.make_env(0)
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=1)
    rows = []
    for _ in range(600):
        act = rng.uniform(task.act_low, task.act_high)
        nxt, _, terminated, truncated, _ = env.step(act)
        rows.append((obs, act, nxt, terminated))
        obs = nxt
        if terminated or truncated:
            obs, _ = env.reset()
    o, a, n, t = (torch.as_tensor(np.array([row[i] for row in rows])) for i in range(4))
    assert t.any() and (~t).any()
    torch.testing.assert_close(task.termination_fn(o, a, n), t)


def test_crippled_leg_makes_its_actions_move_nothing():
    """Drive only leg j: with j crippled the ant moves exactly as with no action at all; with
    another leg crippled it does not."""
    task = ant_crippled_leg()

    def drive(crippled: int, leg: int, scale: float = 1.0):
        env = task.make_env(0)
        env.reset(seed=2)
        env.load_world_state({"hidden": [float(crippled)], "clock": 0})
        actions = np.zeros((30, 8))
        actions[:, list(LEG_MOTORS[leg])] = scale * np.sign(np.sin(np.arange(30)))[:, None]
        return run(env, actions)[0]

    for leg in range(4):
        idle = drive(crippled=leg, leg=leg, scale=0.0)
        np.testing.assert_array_equal(drive(crippled=leg, leg=leg), idle)
        assert np.abs(drive(crippled=(leg + 1) % 4, leg=leg) - idle).max() > 1e-2


def test_crippled_leg_score_is_the_worlds_mean_forward_velocity():
    """eval_score on ant-crippled-leg (and its history task) is the mean of the world's own
    x_velocity over the episode's steps, the reset observation left out."""
    task = ant_crippled_leg()
    env = task.make_env(0)
    obs, _ = env.reset(seed=3)
    actions = np.random.default_rng(0).uniform(-1, 1, (40, 8))
    next_obs, _, infos, _ = run(env, actions)
    episode = torch.as_tensor(np.concatenate([obs[None], next_obs]))
    velocities = np.array([info["x_velocity"] for info in infos])
    assert abs(velocities.mean()) > 1e-3
    torch.testing.assert_close(task.score_fn(episode), torch.tensor(velocities.mean(), dtype=episode.dtype))
    assert tasks.make("ant-crippled-leg+h10").score_name == task.score_name == "forward_velocity"


def test_walker_params_set_torso_mass_and_floor_contact_friction():
    env = walker2d_randomparams().make_env(0)
    env.reset(seed=0)
    torso, floor = env.torso, env.floor
    nominal = gym.make("Walker2d-v5").unwrapped.model
    env.load_world_state({"hidden": [2.0, 0.5], "clock": 0})
    model = env.unwrapped.model  # recompiled
    assert model.body_mass[torso] == pytest.approx(2.0 * nominal.body_mass[torso])
    np.testing.assert_allclose(model.body_inertia[torso], 2.0 * nominal.body_inertia[torso])
    assert model.body_subtreemass[0] == pytest.approx(nominal.body_mass.sum() + nominal.body_mass[torso])
    run(env, np.zeros((150, 6)))  # stand, fall: the feet and more touch the floor
    data = env.unwrapped.data
    on_floor = [c for c in data.contact[:data.ncon] if floor in (c.geom1, c.geom2)]
    assert on_floor and all(c.friction[0] == pytest.approx(0.5 * NOMINAL_FLOOR_FRICTION)
                            for c in on_floor)
    # the same actions under another torso mass give another motion
    trajectories = []
    for mass in (0.5, 2.0):
        env.reset(seed=4)
        env.load_world_state({"hidden": [mass, 1.0], "clock": 0})
        trajectories.append(run(env, np.full((20, 6), 0.5))[0])
    assert np.abs(trajectories[0] - trajectories[1]).max() > 1e-2


def test_pier_damping_sets_how_fast_a_block_stops_bobbing():
    env = halfcheetah_pier().make_env(0)
    world = env.unwrapped
    far = int(np.argmax(np.abs(world.model.body_pos[world.block_bodies, 0])))  # far from the cheetah
    dof = world.block_dofs[far]
    qpos = world.model.jnt_qposadr[world.model.dof_jntid[dof]]
    amplitude = {}
    for damping in (0.0, 150.0):
        env.reset(seed=0)
        hidden = np.concatenate([np.full(N_BLOCKS, damping), np.full(N_BLOCKS, 0.5)])
        env.load_world_state({"hidden": hidden.tolist(), "clock": 0})
        assert np.all(world.model.dof_damping[world.block_dofs] == damping)
        assert np.all(world.model.geom_friction[world.block_geoms, 0] == 0.5)
        world.data.qvel[dof] = 0.5  # a push
        heights = []
        for _ in range(40):
            env.step(np.zeros(6))
            heights.append(world.data.qpos[qpos])
        amplitude[damping] = np.abs(heights[20:]).max()
    assert amplitude[150.0] < 0.05 * amplitude[0.0]


def test_pier_follows_the_cheetah():
    env = halfcheetah_pier().make_env(0)
    env.reset(seed=0)
    world = env.unwrapped
    for x in (0.0, 10.3, -7.9):
        world.data.qpos[0] = x
        world.place_blocks()
        centres = np.sort(world.model.body_pos[world.block_bodies, 0])
        low = np.floor((x - BACK) / BLOCK_LENGTH) * BLOCK_LENGTH
        np.testing.assert_allclose(centres, low + BLOCK_LENGTH * (np.arange(N_BLOCKS) + 0.5))
        assert centres[0] - BLOCK_LENGTH / 2 <= x - BACK + BLOCK_LENGTH


def test_pier_cheetah_has_gymnasiums_masses_and_floats():
    env = halfcheetah_pier().make_env(0)
    env.reset(seed=0)
    world, plain = env.unwrapped, gym.make("HalfCheetah-v5").unwrapped
    n = plain.model.nbody
    np.testing.assert_allclose(world.model.body_mass[:n], plain.model.body_mass, rtol=1e-12)
    np.testing.assert_allclose(world.model.body_inertia[:n], plain.model.body_inertia, rtol=1e-12)
    run(env, np.zeros((100, 6)))
    sinking = world.data.qpos[world.model.jnt_qposadr[world.model.dof_jntid[world.block_dofs]]]
    assert sinking.min() < -0.01  # the blocks under the cheetah went down
    assert world.data.qpos[1] > -0.5  # the cheetah stands on them, not in the water


# --- restoring the world mid-episode ----------------------------------------------------------

def snapshot(env: gym.Env) -> dict:
    """Everything a world's future depends on: simulator, RNG, time limit, hidden task, clock."""
    world = env.unwrapped
    return {"data": copy.copy(world.data), "rng": copy.deepcopy(world.np_random.bit_generator.state),
            "elapsed": time_limit(env)._elapsed_steps, "world": env.world_state()}


def restore(env: gym.Env, snap: dict, with_world: bool = True) -> None:
    world = env.unwrapped
    mujoco.mj_copyData(world.data, world.model, snap["data"])
    world.np_random.bit_generator.state = snap["rng"]
    time_limit(env)._elapsed_steps = snap["elapsed"]
    if with_world:
        env.load_world_state(snap["world"])


@pytest.mark.parametrize("name", sorted(WORLDS))
def test_restore_mid_episode_across_a_switch_continues_exactly(name):
    """Stop 10 steps before a switch, restore into a fresh env of another seed, continue past
    the switch: the same observations, rewards and hidden tasks. Without the world's state
    (hidden task and clock) the continuation differs, so the check can fail."""
    task = tasks.make(name)
    if name == "walker2d-randomparams":  # switches inside an episode only when shortened
        task = walker2d_randomparams(switch_seconds=0.4)
    if name == "humanoid-direc":
        task = humanoid_direc(switch_seconds=0.3)
    source = task.make_env(0)
    source.reset(seed=11)
    steps = source.switch_steps
    rng = np.random.default_rng(0)
    scale = 0.3 if name.startswith(("humanoid", "walker")) else 1.0  # stay up until the switch
    before = rng.uniform(task.act_low, task.act_high, (steps - 10, task.act_dim)) * scale
    after = rng.uniform(task.act_low, task.act_high, (25, task.act_dim)) * scale
    run(source, before)
    snap = snapshot(source)
    expected = run(source, after)
    assert source.clock == 15  # the continuation crossed a switch
    for with_world, same in ((True, True), (False, False)):
        target = task.make_env(1)
        target.reset(seed=99)
        restore(target, snap, with_world)
        got = run(target, after)
        hidden_same = all(np.array_equal(g["hidden_task"], e["hidden_task"])
                          for g, e in zip(got[2], expected[2]))
        if same:
            np.testing.assert_array_equal(got[0], expected[0])
            np.testing.assert_array_equal(got[1], expected[1])
            assert hidden_same and target.clock == source.clock
        else:
            assert not (hidden_same and target.clock == source.clock)


# --- in the game ------------------------------------------------------------------------------

def tiny_game(task, seed: int) -> Game:
    policy = NPGPolicyPlayer(task, NPGConfig(num_trajectories=2, horizon_cap=5, value_hidden_sizes=(8,)),
                             PolicyConfig(hidden_sizes=(8,)), seed=seed)
    model = DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig(ensemble_size=1, hidden_sizes=(8,)),
                             seed=seed)
    return Game(task, policy, model, PAL(initial_samples=10, samples_per_iteration=10), seed=seed,
                eval_episodes=1)


def test_game_checkpoint_carries_the_hidden_task_and_clock():
    task = ant_crippled_leg(switch_seconds=0.5)
    game = tiny_game(task, seed=0)
    run(game.env, np.zeros((23, 8)))  # mid-segment: clock 3
    run(game.eval_env, np.zeros((7, 8)))
    state = game.state_dict()
    assert state["env_world"] == game.env.world_state() and state["env_world"]["clock"] == 3
    resumed = tiny_game(task, seed=1)
    assert resumed.env.world_state() != state["env_world"]
    resumed.load_state_dict(state)
    assert resumed.env.world_state() == state["env_world"]
    assert resumed.eval_env.world_state() == state["eval_env_world"]
    leg = int(state["env_world"]["hidden"][0])
    assert np.all(resumed.env.unwrapped.model.actuator_gear[list(LEG_MOTORS[leg]), 0] == 0)
    # a checkpoint from before hidden tasks (no world entries) still loads
    old = {k: v for k, v in state.items() if not k.endswith("_world")}
    tiny_game(task, seed=2).load_state_dict(old)


def test_a_perturbation_keeps_the_hidden_task_in_charge_of_what_it_owns():
    """A mass perturbation recompiles the model: the torso follows the hidden task again at
    the next step, every other body keeps the perturbation's x1.5."""
    task = walker2d_randomparams()
    env = task.make_env(0)
    env.reset(seed=0)
    env.load_world_state({"hidden": [2.0, 1.0], "clock": 0})
    nominal = gym.make("Walker2d-v5").unwrapped.model
    apply_perturbation(task, env, parse_perturbation("dynamics@0:target=mass,scale=1.5"))
    env.step(np.zeros(6))
    model = env.unwrapped.model
    assert model.body_mass[env.torso] == pytest.approx(2.0 * nominal.body_mass[env.torso])
    others = [b for b in range(1, model.nbody) if b != env.torso]
    np.testing.assert_allclose(model.body_mass[others], 1.5 * nominal.body_mass[others])
