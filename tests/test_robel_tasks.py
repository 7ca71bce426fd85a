"""ROBEL tasks: assets cache, spaces, reset ranges, control, and env/batched-function parity."""
import importlib.util
import threading

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

mujoco = pytest.importorskip("mujoco")
if importlib.util.find_spec("robel") is None:  # the assets come from this wheel
    pytest.skip("robel missing: .venv/bin/pip install --no-deps robel==0.1.2", allow_module_level=True)

import tasks  # noqa: E402
from stackelberg.tasks.robel import RobelMissingError, assets, dclaw, dkitty  # noqa: E402
from stackelberg.tasks.robel.control import wrap_angle  # noqa: E402

PI = np.pi


@pytest.fixture(scope="module")
def turn():
    return dclaw.dclaw_turn()


@pytest.fixture(scope="module")
def orient():
    return dkitty.dkitty_orient()


def rollout(env, actions, seed):
    """Step through `actions`, resetting at episode ends; returns stacked tensors and infos."""
    obs, _ = env.reset(seed=seed)
    rows, infos = [], []
    for act in actions:
        nxt, reward, terminated, truncated, info = env.step(act)
        rows.append((obs, act, nxt, reward, terminated, truncated))
        infos.append(info)
        obs = nxt
        if terminated or truncated:
            obs, _ = env.reset()
    cols = [torch.as_tensor(np.array([r[i] for r in rows])) for i in range(6)]
    return cols, infos


def assert_parity(task, obs, act, nxt, reward, terminated):
    torch.testing.assert_close(task.reward_fn(obs, act, nxt), reward.double(), atol=1e-6, rtol=0)
    torch.testing.assert_close(task.termination_fn(obs, act, nxt), terminated)


# --- assets -----------------------------------------------------------------------------------

def test_strip_xml_declarations_only_removes_declaration_lines():
    body = '<mujoco model="m">\n</mujoco>\n'
    text = '<!-- licence -->\n\n  <?xml version="1.0"?>  \n' + body
    assert assets.strip_xml_declarations(text) == "<!-- licence -->\n\n" + body


def test_asset_cache_is_built_once_even_when_raced(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV_VAR, str(tmp_path))
    roots = []
    threads = [threading.Thread(target=lambda: roots.append(assets.asset_root())) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(roots) == 2 and roots[0] == roots[1] == tmp_path / "robel-0.1.2" / "robel"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robel-0.1.2"]  # no staging dirs left
    xml = sorted(roots[0].rglob("*.xml"))
    assert len(xml) == 22
    assert not any("<?xml" in p.read_text() for p in xml)
    # site-packages is untouched: the wheel's files still carry the declaration
    assert "<?xml" in (assets.robel_package_dir() / assets.DCLAW_TURN_XML).read_text()
    assert assets.asset_root() == roots[0]  # idempotent
    model = assets.load_model(assets.DKITTY_ORIENT_XML, root=roots[0])
    assert (model.nq, model.nv, model.nu) == (18, 18, 12)


def test_missing_robel_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(assets.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(RobelMissingError, match=r"\.venv/bin/pip install --no-deps robel==0\.1\.2"):
        assets.asset_root()
    assert issubclass(RobelMissingError, RuntimeError)


def test_incomplete_robel_install_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv(assets.CACHE_ENV_VAR, str(tmp_path / "cache"))
    fake = importlib.util.spec_from_loader("robel", loader=None, is_package=True)
    fake.submodule_search_locations = [str(tmp_path)]  # an empty "package"
    monkeypatch.setattr(assets.importlib.util, "find_spec", lambda name: fake)
    with pytest.raises(RobelMissingError, match="missing"):
        assets.asset_root()


# --- spaces, reset distributions, control ------------------------------------------------------

def test_tasks_fit_their_envs(turn, orient):
    """Each task's dimensions and action bounds are its env's (the check every task gets when
    built), its reward and termination functions match the env step by step, and actions are
    normalised to [-1, 1] as ROBEL's are."""
    from stackelberg.tasks import check_task, validate_task

    for task in (turn, orient):
        validate_task(task)
        assert check_task(task, 60).ok, task.name
        np.testing.assert_array_equal(task.act_low, -1.0)
        np.testing.assert_array_equal(task.act_high, 1.0)


def test_dclaw_reset_distribution(turn):
    env = turn.make_env(0)
    starts, targets = [], []
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        start, target = info["valve_angle"], info["target"]
        starts.append(start)
        targets.append(target)
        np.testing.assert_allclose(obs[0:9], dclaw.RESET_POSE)
        np.testing.assert_allclose(obs[9:11], [np.cos(start), np.sin(start)])
        np.testing.assert_array_equal(obs[11:20], 0.0)
        np.testing.assert_array_equal(obs[21:30], 0.0)
        assert obs[20] == pytest.approx(wrap_angle(target - start))
        assert PI / 3 - 1e-9 <= abs(obs[20]) <= PI + 1e-9
        assert env.data.ncon == 0  # the fingers start clear of the valve
    starts, targets = np.array(starts), np.array(targets)
    assert starts.min() >= -PI / 3 and starts.max() <= PI / 3
    assert starts.min() < -0.9 and starts.max() > 0.9  # really spread over +-60 deg
    assert np.all(np.abs(targets) >= 2 * PI / 3 - 1e-9) and np.all(np.abs(targets) <= PI)
    assert (targets > 0).any() and (targets < 0).any()


def test_dkitty_reset_distribution(orient):
    env = orient.make_env(0)
    yaws, goals = [], []
    for seed in range(200):
        obs, info = env.reset(seed=seed)
        yaw, goal = info["initial_yaw"], info["target_angle"]
        yaws.append(yaw)
        goals.append(goal)
        np.testing.assert_allclose(obs[0:6], [0, 0, 0, 0, 0, yaw], atol=1e-12)
        np.testing.assert_array_equal(obs[6:48], 0.0)  # legs, velocities, last action
        assert obs[48] == pytest.approx(1.0)
        facing = np.arctan2(obs[50], obs[49]) - PI / 2  # the kitty faces its +y axis
        desired = np.arctan2(obs[52], obs[51]) - PI / 2
        assert wrap_angle(facing - yaw) == pytest.approx(0.0, abs=1e-9)
        assert wrap_angle(desired - goal) == pytest.approx(0.0, abs=1e-6)
        err = float(dkitty.angle_error(torch.as_tensor(obs)))
        assert err == pytest.approx(abs(wrap_angle(goal - yaw)), abs=1e-6)
        assert PI / 3 - 1e-6 <= err <= PI + 1e-9
    yaws, goals = np.array(yaws), np.array(goals)
    assert yaws.min() >= -PI / 3 and yaws.max() <= PI / 3 and yaws.min() < -0.9 and yaws.max() > 0.9
    assert goals.min() >= 2 * PI / 3 and goals.max() <= 4 * PI / 3
    assert goals.min() < 2.2 and goals.max() > 4.1


def test_dclaw_position_control_limits_velocity(turn):
    env = turn.make_env(0)
    q = env.data.qpos[0:9].copy()
    obs, *_ = env.step(np.full(9, 5.0))  # out of range: clipped to 1
    np.testing.assert_array_equal(obs[11:20], 1.0)
    # every +1 target is more than 0.2094 rad away from the reset pose, so all are rate limited
    np.testing.assert_allclose(env.data.ctrl[0:9], q + 2 * PI / 3 * 0.1)
    q = env.data.qpos[0:9].copy()
    small = np.array([0.01, 0.0, -0.01] * 3)
    env.step(small)
    expected = small * np.array([0.48, PI / 3, PI / 2] * 3)
    near = np.abs(expected - q) <= 2 * PI / 3 * 0.1
    np.testing.assert_allclose(env.data.ctrl[0:9][near], expected[near])


def test_dkitty_uncentred_ranges_and_velocity_limit(orient):
    env = orient.make_env(0)
    q = env.data.qpos[6:18].copy()  # all zero at reset
    env.step(np.zeros(12))
    mid = np.array([(lo + hi) / 2 for lo, hi in dkitty.LEG_RANGES])  # a = 0 is the range centre
    np.testing.assert_allclose(env.data.ctrl, q + np.clip(mid - q, -PI * 0.1, PI * 0.1))
    assert np.isclose(mid[1], PI / 4) and np.isclose(mid[2], -1.0)


def test_dclaw_fixed_is_one_episode_from_0_to_180_degrees_with_the_same_world():
    """ROBEL's DClawTurnFixed: every reset is the same state (start 0, target pi, on the wrap
    seam), whatever the seed; the world, reward and success are the Random variant's."""
    fixed, random_ = tasks.make("dclaw-turn-fixed"), tasks.make("dclaw-turn")
    assert (fixed.obs_dim, fixed.act_dim, fixed.horizon, fixed.reward_fn, fixed.success_fn) == \
        (random_.obs_dim, random_.act_dim, random_.horizon, random_.reward_fn, random_.success_fn)
    env = fixed.make_env(0)
    first, info = env.reset(seed=0)
    assert info["valve_angle"] == 0.0 and abs(info["target"]) == pytest.approx(PI)
    assert abs(first[20]) == pytest.approx(PI)
    actions = np.random.default_rng(3).uniform(-1, 1, (40, 9))
    episodes = []
    for seed in (1, 2, 99):
        obs, _ = env.reset(seed=seed)
        np.testing.assert_array_equal(obs, first)
        episodes.append([env.step(a)[0] for a in actions])
    np.testing.assert_array_equal(episodes[0], episodes[2])  # deterministic world
    (obs, act, nxt, reward, term, trunc), _ = rollout(fixed.make_env(1), actions, seed=1)
    assert_parity(fixed, obs, act, nxt, reward, term)


# --- parity between the env and the batched functions ----------------------------------------

def test_dclaw_random_parity(turn):
    env = turn.make_env(1)
    rng = np.random.default_rng(1)
    actions = rng.uniform(-1, 1, (200, 9))
    (obs, act, nxt, reward, term, trunc), infos = rollout(env, actions, seed=1)
    assert not term.any() and trunc.sum() == 5  # 40-step episodes, no termination
    speed = nxt[:, 21:30].abs()
    assert (speed >= 0.5).any() and (speed < 0.5).any()  # both branches of the velocity mask
    np.testing.assert_allclose(nxt[:, 11:20].numpy(), act.numpy())  # last_action
    assert_parity(turn, obs, act, nxt, reward, term)
    terms = np.array([sum(v for k, v in i.items() if k.startswith("reward/")) for i in infos])
    np.testing.assert_allclose(terms, reward.numpy())
    # batched over leading dims
    r = turn.reward_fn(obs.view(5, 40, -1), act.view(5, 40, -1), nxt.view(5, 40, -1))
    assert r.shape == (5, 40)
    torch.testing.assert_close(r.reshape(-1), reward.double(), atol=1e-6, rtol=0)
    done = turn.termination_fn(obs.view(5, 40, -1), act.view(5, 40, -1), nxt.view(5, 40, -1))
    assert done.shape == (5, 40) and done.dtype == torch.bool


def test_dclaw_velocity_cost_is_a_per_row_masked_norm(turn):
    nxt = torch.zeros(3, 30, dtype=torch.float64)
    nxt[:, 0:9] = torch.as_tensor(dclaw.RESET_POSE)
    nxt[:, 20] = 1.0  # no bonus
    nxt[0, 21:24] = torch.tensor([3.0, 4.0, 0.49])  # 0.49 is below the 0.5 threshold
    nxt[1, 21:23] = torch.tensor([-0.5, 0.3])
    r = turn.reward_fn(nxt, torch.zeros(3, 9), nxt) + 5.0
    torch.testing.assert_close(r, torch.tensor([-5.0, -0.5, 0.0], dtype=torch.float64))


def _scripted_dclaw(env, offsets, rng):
    """Put the valve at target + offset before each step, so the reward passes every threshold."""
    obs, _ = env.reset(seed=7)
    rows, infos = [], []
    for off in offsets:
        env.data.qpos[18] = env.target + off
        env.data.qvel[18] = 0.0
        act = rng.uniform(-0.3, 0.3, 9) + np.array([0.0, -1.0, 2 / 3] * 3)  # near the reset pose
        nxt, reward, term, trunc, info = env.step(act)
        rows.append((obs, act, nxt, reward, term))
        infos.append(info)
        obs = nxt
    return [torch.as_tensor(np.array([r[i] for r in rows])) for i in range(5)], infos, trunc


def test_dclaw_scripted_success_parity(turn):
    env = turn.make_env(7)
    rng = np.random.default_rng(7)
    offsets = np.resize([0.6, 0.2, -0.05, 0.15, 0.0, -0.3, 0.08], 39).tolist() + [0.03]
    (obs, act, nxt, reward, term), infos, trunc = _scripted_dclaw(env, offsets, rng)
    assert trunc and len(infos) == 40
    success = np.array([i["success"] for i in infos])
    big = np.array([i["reward/bonus_big"] for i in infos])
    small = np.array([i["reward/bonus_small"] for i in infos])
    assert success.any() and (~success).any() and (big > 0).any() and ((small > 0) & (big == 0)).any()
    np.testing.assert_array_equal(success, nxt[:, 20].abs().numpy() < 0.1)
    assert_parity(turn, obs, act, nxt, reward, term)
    episode = torch.cat([obs[:1], nxt])  # (T + 1, obs_dim)
    assert bool(turn.success_fn(episode)) is True and infos[-1]["success"]
    # the same episode ending away from the target is a failure, even with successes before
    (obs, act, nxt, _, _), infos, _ = _scripted_dclaw(env, offsets[:-1] + [0.5], rng)
    assert not infos[-1]["success"] and any(i["success"] for i in infos)
    episodes = torch.stack([episode, torch.cat([obs[:1], nxt])])
    assert turn.success_fn(episodes).tolist() == [True, False]
    # the score is the env's own target distance at the last step
    torch.testing.assert_close(turn.score_fn(episodes),
                               torch.tensor([0.03, infos[-1]["target_distance"]], dtype=torch.float64))
    assert infos[-1]["target_distance"] == pytest.approx(0.5)


def test_dclaw_zero_policy_rarely_succeeds(turn):
    env = turn.make_env(0)
    wins = 0
    for seed in range(6):
        episode = [env.reset(seed=seed)[0]]
        for _ in range(turn.horizon):
            obs, _, _, truncated, info = env.step(np.zeros(9))
            episode.append(obs)
        assert truncated
        assert bool(turn.success_fn(torch.as_tensor(np.array(episode)))) == info["success"]
        wins += info["success"]
    assert wins <= 1


def test_dkitty_random_parity_with_falls(orient):
    env = orient.make_env(2)
    rng = np.random.default_rng(2)
    acts = np.concatenate([rng.uniform(-1, 1, (150, 12)), 0.3 * rng.standard_normal((150, 12))])
    (obs, act, nxt, reward, term, trunc), infos = rollout(env, acts, seed=2)
    assert term.sum() >= 3 and (~term).sum() > 100  # falls and upright steps both present
    assert np.all(np.array([i["reward/falling"] for i in infos])[term.numpy()] == -500.0)
    assert (reward[term] < -400).all()
    assert_parity(orient, obs, act, nxt, reward, term)
    np.testing.assert_allclose(nxt[:, 36:48].numpy(), np.clip(act.numpy(), -1, 1))
    # float32 inputs (as a learned model produces) give the same decisions
    r32 = orient.reward_fn(obs.float(), act.float(), nxt.float())
    assert r32.dtype == torch.float32
    torch.testing.assert_close(r32.double(), reward.double(), atol=1e-3, rtol=1e-5)


def test_dkitty_torso_tracking(orient):
    """obs[3:6] are the x-y-z Euler angles of the torso (= the root hinges while upright)."""
    env = orient.make_env(6)
    rng = np.random.default_rng(6)
    body = env.model.body("kitty_frame").id
    for _ in range(20):
        obs, *_ = env.step(0.3 * rng.standard_normal(12))
        np.testing.assert_allclose(obs[0:3], env.data.qpos[0:3])
        np.testing.assert_allclose(obs[3:6], env.data.qpos[3:6], atol=1e-9)
        np.testing.assert_allclose(obs[18:24], env.data.qvel[0:6])
        rot = Rotation.from_euler("XYZ", env.data.qpos[3:6]).as_matrix()
        assert obs[48] == pytest.approx(rot[2, 2], abs=1e-12)
        np.testing.assert_allclose(obs[49:51], rot[0:2, 1], atol=1e-12)
        # MuJoCo's own body frame agrees (after mj_step its xmat lags a substep, so refresh it)
        mujoco.mj_kinematics(env.model, env.data)
        np.testing.assert_allclose(env.data.xmat[body].reshape(3, 3), rot, atol=1e-12)
    rots = Rotation.random(50, random_state=0)
    for rot in rots:
        angles = rot.as_euler("XYZ")
        np.testing.assert_allclose(dkitty._matrix_to_xyz_euler(rot.as_matrix()), angles, atol=1e-9)


def test_dkitty_scripted_success_and_fall(orient):
    """Face the target (success), nearly face it (no big bonus), then tip over (termination)."""
    env = orient.make_env(3)
    obs0, info = env.reset(seed=3)
    rows, infos = [], []
    obs = obs0
    schedule = [0.0] * 10 + [0.2] * 3 + [-0.4] * 2 + [0.0] * 5  # yaw offsets from facing the target
    for k, off in enumerate(schedule):
        env.data.qpos[5] = np.clip(wrap_angle(info["target_angle"] + off), -3.14, 3.14)
        env.data.qvel[3:6] = 0.0
        nxt, reward, term, trunc, inf = env.step(np.zeros(12))
        rows.append((obs, np.zeros(12), nxt, reward, term))
        infos.append(inf)
        obs = nxt
    env.data.qpos[3] = 0.6  # roll ~34 deg: fallen
    nxt, reward, term, trunc, inf = env.step(np.zeros(12))
    rows.append((obs, np.zeros(12), nxt, reward, term))
    infos.append(inf)
    obs, act, nxt, reward, term = [torch.as_tensor(np.array([r[i] for r in rows])) for i in range(5)]
    assert term[-1] and not term[:-1].any() and infos[-1]["reward/falling"] == -500.0
    success = np.array([i["success"] for i in infos])
    assert success[:10].all() and not success[10:15].any() and success[15:20].all() and not success[20]
    assert all(i["reward/bonus_small"] == 10.0 for i in infos[:10])
    assert all(i["reward/bonus_small"] == 10.0 and i["reward/bonus_big"] == 0.0 for i in infos[10:13])
    assert all(i["reward/bonus_small"] == 5.0 and i["reward/bonus_big"] == 0.0 for i in infos[13:15])
    assert_parity(orient, obs, act, nxt, reward, term)
    # success is read at the last step only
    episode = torch.cat([torch.as_tensor(obs0)[None], nxt])  # (T + 1, obs_dim)
    ends = (10, 15, 20, 21)
    assert [bool(orient.success_fn(episode[: t + 1])) for t in ends] == [True, False, True, False]
    assert orient.success_fn(torch.stack([episode[:11], episode[5:16]])).tolist() == [True, False]
    # the score is the env's own facing error at the last step of each episode
    scores = [float(orient.score_fn(episode[: t + 1])) for t in ends]
    np.testing.assert_allclose(scores, [infos[t - 1]["angle_error"] for t in ends], atol=1e-9)
    assert scores[0] < 0.01 and scores[1] == pytest.approx(0.4, abs=0.01)


def test_reward_gradients_are_finite(turn, orient):
    for task, env in ((turn, turn.make_env(0)), (orient, orient.make_env(0))):
        obs = torch.as_tensor(env.reset(seed=0)[0])[None].repeat(2, 1)
        obs[1, 0:2] = 0.0
        nxt = obs.clone().requires_grad_(True)
        task.reward_fn(obs, torch.zeros(2, task.act_dim), nxt).sum().backward()
        assert torch.isfinite(nxt.grad).all()


@pytest.mark.parametrize("which", ["turn", "orient"])
def test_same_seed_same_trajectory(which, request):
    task = request.getfixturevalue(which)
    acts = np.random.default_rng(4).uniform(-0.5, 0.5, (30, task.act_dim))
    runs = []
    for _ in range(2):
        env = task.make_env(11)
        obs, _ = env.reset(seed=11)
        seq = [obs]
        for a in acts:
            seq.append(env.step(a)[0])
        runs.append(np.array(seq))
    np.testing.assert_array_equal(runs[0], runs[1])
    other, _ = task.make_env(12).reset(seed=12)
    assert not np.array_equal(other, runs[0][0])


def test_make_env_is_reset_with_the_seed(turn, orient):
    for task in (turn, orient):
        a = task.make_env(5)
        first = a.step(np.zeros(task.act_dim))[0]
        b = task.make_env(0)
        b.reset(seed=5)
        np.testing.assert_array_equal(b.step(np.zeros(task.act_dim))[0], first)


# --- the DClaw mirror symmetry ----------------------------------------------------------------
def _write_mirrored_state(src, dst, symmetry):
    """Put `dst` in the mirror image of `src`'s simulator state (claw, valve, target, action)."""
    idx = src.group.qpos_idx

    def to_joints(x):  # joint angles, speeds and actions share the action's mirror map
        return symmetry.act(torch.as_tensor(x)).numpy()

    dst.data.qpos[:], dst.data.qvel[:] = src.data.qpos, src.data.qvel
    dst.data.qpos[idx], dst.data.qvel[idx] = to_joints(src.data.qpos[idx]), to_joints(src.data.qvel[idx])
    dst.data.qpos[src._valve_q] = -src.data.qpos[src._valve_q]
    dst.data.qvel[src._valve_v] = -src.data.qvel[src._valve_v]
    dst.target, dst.last_action = float(wrap_angle(-src.target)), to_joints(src.last_action)
    mujoco.mj_forward(dst.model, dst.data)


def _mirror_step_error(turn, symmetry, episodes=6):
    """Per obs coordinate: mean |step(mirror(s), mirror(a)) - mirror(step(s, a))| over mean |s' - s|."""
    world, image = turn.make_env(0), turn.make_env(0)
    rng = np.random.default_rng(3)
    errors, changes = [], []
    for ep in range(episodes):
        obs, _ = world.reset(seed=ep)
        image.reset(seed=ep)
        for t in range(turn.horizon):
            _write_mirrored_state(world, image, symmetry)
            np.testing.assert_allclose(image._observe(), symmetry.obs(torch.as_tensor(obs)).numpy(), atol=1e-12)
            # noise plus a sweeping curl of every finger, which pushes the valve around
            act = np.clip(rng.normal(0, 0.7, 9) + np.sin(t / 3 + ep) * np.array([0, 1, -1] * 3), -1, 1)
            nxt = world.step(act)[0]
            nxt_image = image.step(symmetry.act(torch.as_tensor(act)).numpy())[0]
            error, change = nxt_image - symmetry.obs(torch.as_tensor(nxt)).numpy(), nxt - obs
            error[20], change[20] = wrap_angle(error[20]), wrap_angle(change[20])  # as the model sees it
            errors.append(np.abs(error))
            changes.append(np.abs(change))
            obs = nxt
    changes = np.mean(changes, 0)
    return np.mean(errors, 0) / changes, changes


def test_dclaw_mirror_is_an_involution_that_keeps_reward_and_success(turn):
    sym = turn.symmetry
    env = turn.make_env(2)
    actions = np.random.default_rng(2).uniform(-1, 1, (120, 9))
    (obs, act, nxt, reward, term, _), _ = rollout(env, actions, seed=2)
    torch.testing.assert_close(sym.obs(sym.obs(obs)), obs, rtol=0, atol=0)
    torch.testing.assert_close(sym.act(sym.act(act)), act, rtol=0, atol=0)
    mirrored = sym.with_mirror_images({"obs": obs, "act": act, "next_obs": nxt, "reward": reward})
    assert mirrored["obs"].shape == (240, 30)
    m_obs, m_act, m_nxt = mirrored["obs"][120:], mirrored["act"][120:], mirrored["next_obs"][120:]
    assert not torch.equal(m_obs, obs)
    torch.testing.assert_close(turn.reward_fn(m_obs, m_act, m_nxt), reward.double(), atol=1e-9, rtol=0)
    episodes = torch.cat([obs[:1], nxt[:39]]).unsqueeze(0)
    torch.testing.assert_close(turn.success_fn(sym.obs(episodes)), turn.success_fn(episodes))
    with pytest.raises(ValueError, match="permutation"):
        type(sym)((0, 0), (1.0, 1.0), (0,), (1.0,))


def test_dclaw_mirror_agrees_with_the_simulator(turn):
    """The world is mirror symmetric up to ROBEL's rounded mounting angles: a mirrored step
    differs from the mirrored state's own step by a few percent of the step's change; a wrong
    mirror (abduction joints not negated) is off by the whole change."""
    ratio, changes = _mirror_step_error(turn, turn.symmetry)
    assert changes[10] > 0.01  # the valve does turn in these episodes
    assert ratio.max() < 0.1, ratio
    sym = turn.symmetry
    keep_valve = [abs(s) if i not in (10, 20) else s for i, s in enumerate(sym.obs_sign)]
    wrong = type(sym)(sym.obs_index, tuple(keep_valve), sym.act_index, tuple(abs(s) for s in sym.act_sign))
    assert _mirror_step_error(turn, wrong, episodes=2)[0].max() > 0.5


def test_dclaw_vel_is_the_same_world_with_the_valve_velocity_observed():
    """`dclaw-turn-vel` = `dclaw-turn` plus obs[30] = the valve's angular velocity: the same
    episodes step for step, the same reward and success on the first 30 entries, and a mirror
    that negates the velocity and still agrees with the simulator."""
    vel, base = tasks.make("dclaw-turn-vel"), tasks.make("dclaw-turn")
    assert (vel.obs_dim, vel.act_dim, vel.reward_fn, vel.success_fn) == (31, 9, base.reward_fn, base.success_fn)
    actions = np.random.default_rng(4).uniform(-1, 1, (80, 9))
    env_vel = vel.make_env(4)
    (obs, act, nxt, reward, term, _), _ = rollout(env_vel, actions, seed=4)
    (obs_b, _, nxt_b, reward_b, _, _), _ = rollout(base.make_env(4), actions, seed=4)
    torch.testing.assert_close(obs[:, :30], obs_b, rtol=0, atol=0)
    torch.testing.assert_close(reward, reward_b, rtol=0, atol=0)
    assert (nxt[:, 30].abs() > 0.05).any()  # the valve does spin in these episodes
    turned = np.unwrap(np.arctan2(nxt[:40, 10].numpy(), nxt[:40, 9].numpy()))  # one episode: the angle
    speed = nxt[:40, 30].numpy()  # the angle integrates it over the step
    assert np.corrcoef(np.diff(turned), (speed[1:] + speed[:-1]) / 2)[0, 1] > 0.8  # 0.86 here
    assert_parity(vel, obs, act, nxt, reward, term)
    ratio, changes = _mirror_step_error(vel, vel.symmetry, episodes=3)
    assert changes[30] > 0.01 and ratio.max() < 0.1, ratio
