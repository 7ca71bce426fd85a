"""Perturbations: the text syntax, dynamics edits that recompile MuJoCo models, goal shifts,
and their life in the game loop (fire once, logged, plotted, re-applied on resume)."""
import csv
import math

import mujoco
import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg import PAL, DynamicsEnsemble, Game, NPGPolicyPlayer, UserInputError
from stackelberg import ModelConfig, NPGConfig, PolicyConfig
from stackelberg.worlds.perturbations import (KINDS, SYNTAX, Perturbation, apply_perturbation,
                                       check_perturbations, parse_perturbation, resolve)
from stackelberg.runner.plots import perturbation_marks
from stackelberg.runner.run_folder import RunRecorder
from stackelberg.tasks.reacher import (FINGER, GOAL_HIGH, GOAL_LOW, NOMINAL_FOREARM, TARGET,
                           build_reacher_model, reacher_goal_distance)


# --- syntax ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text,kind,at,params", [
    ("dynamics@10000", "dynamics", 10000, {}),
    ("dynamics@10000:target=forearm,scale=1.3", "dynamics", 10000, {"target": "forearm", "scale": 1.3}),
    ("dynamics@5000:target=mass,scale=1.5,body=torso", "dynamics", 5000,
     {"target": "mass", "scale": 1.5, "body": "torso"}),
    ("dynamics@5000:target=damping,scale=2", "dynamics", 5000, {"target": "damping", "scale": 2.0}),
    ("goals@8000", "goals", 8000, {}),
    ("goals@0:dx=0.1,dy=-1", "goals", 0, {"dx": 0.1, "dy": -1.0}),
])
def test_parse_and_round_trip(text, kind, at, params):
    p = parse_perturbation(text)
    assert p == Perturbation(kind, at, params)
    assert p.to_text() == text and parse_perturbation(p.to_text()) == p


def test_parse_is_lenient_about_spaces_and_case():
    assert parse_perturbation(" Dynamics@ 10_000 : scale = 1.2 ") == Perturbation(
        "dynamics", 10000, {"scale": 1.2})


@pytest.mark.parametrize("text,problem", [
    ("", "empty"),
    ("dynamics", "no '@SAMPLES'"),
    ("wind@100", "unknown kind 'wind'"),
    ("dynamics@1e4", "whole number"),
    ("dynamics@-5", ">= 0"),
    ("dynamics@100:", "nothing after ':'"),
    ("dynamics@100:scale", "'scale' is not key=value"),
    ("dynamics@100:scale=", "is not key=value"),
    ("dynamics@100:scale=1,scale=2", "scale is given twice"),
    ("dynamics@100:scale=inf", "not a finite number"),
])
def test_bad_text_says_what_is_wrong_and_the_syntax(text, problem):
    with pytest.raises(UserInputError) as err:
        parse_perturbation(text)
    message = str(err.value)
    assert problem in message and SYNTAX in message and ", ".join(KINDS) in message


def test_defaults_are_resolved_per_task():
    reacher, hopper = tasks.make("reacher-7dof"), tasks.make("hopper")
    assert resolve(reacher, parse_perturbation("dynamics@10000")).to_text() == \
        "dynamics@10000:target=forearm,scale=1.3"
    assert resolve(hopper, parse_perturbation("dynamics@10000")).to_text() == \
        "dynamics@10000:target=mass,scale=1.5"
    assert resolve(hopper, parse_perturbation("dynamics@1:target=damping")).to_text() == \
        "dynamics@1:target=damping,scale=2"
    assert resolve(reacher, parse_perturbation("goals@8000:dx=0.1")).to_text() == \
        "goals@8000:dx=0.1,dy=-1.2,dz=0"


@pytest.mark.parametrize("task,text,problem", [
    ("hopper", "dynamics@1:target=forearm", "no dynamics target 'forearm'; valid targets: damping, mass"),
    ("hopper", "goals@1", "no goal distribution to shift"),
    ("hopper", "dynamics@1:target=mass,size=2", "takes scale, body; unknown: size"),
    ("hopper", "dynamics@1:scale=big", "scale must be a number"),
    ("reacher-7dof", "goals@1:dw=1", "takes dx, dy, dz; unknown: dw"),
    ("hopper", "dynamics@1:target=mass,body=head", "no body named 'head'; bodies: torso, thigh"),
    ("hopper", "dynamics@1:target=damping,joint=rootx", "joint 'rootx' has no damping"),
    ("hopper", "dynamics@1:target=mass,scale=-1", "positive"),
    ("reacher-7dof", "dynamics@1:scale=0.05", "forearm scale must exceed"),
])
def test_a_task_that_cannot_take_a_perturbation_says_why(task, text, problem):
    with pytest.raises(UserInputError, match=None) as err:
        check_perturbations(tasks.make(task), [parse_perturbation(text)])
    assert problem in str(err.value)


def test_goals_hint_names_the_tasks_that_have_a_goal_shift():
    with pytest.raises(UserInputError, match="tasks with one: .*reacher-7dof"):
        resolve(tasks.make("inverted-pendulum"), parse_perturbation("goals@5"))


# --- dynamics -------------------------------------------------------------------------------

def _model_arrays(model: mujoco.MjModel) -> dict:
    return {k: getattr(model, k) for k in ("body_mass", "body_inertia", "body_ipos", "body_iquat",
                                           "body_pos", "geom_size", "geom_pos", "dof_damping")}


def _step_from(env, qpos, qvel, action) -> np.ndarray:
    """Next (qpos, qvel) of the env's current model from a given state."""
    world = env.unwrapped
    world.data.qpos[:], world.data.qvel[:] = qpos, qvel
    mujoco.mj_forward(world.model, world.data)
    env.step(action)
    return np.concatenate([world.data.qpos, world.data.qvel])


def test_forearm_change_recompiles_the_arm_and_changes_its_dynamics():
    task = tasks.make("reacher-7dof")
    nominal, perturbed = task.make_env(0), task.make_env(0)
    applied = apply_perturbation(task, perturbed, parse_perturbation("dynamics@0"))
    assert applied.to_text() == "dynamics@0:target=forearm,scale=1.3"
    length = 1.3 * NOMINAL_FOREARM
    assert perturbed.unwrapped.forearm_length == pytest.approx(length)

    # masses and inertias are those of a model compiled directly from an edited spec
    direct, before = _model_arrays(build_reacher_model(length)), _model_arrays(nominal.unwrapped.model)
    after = _model_arrays(perturbed.unwrapped.model)
    for key in direct:
        np.testing.assert_array_equal(after[key], direct[key], err_msg=key)
    forearm = nominal.unwrapped.model.body("r_forearm_link").id
    assert after["body_mass"][forearm] > before["body_mass"][forearm] * 1.2
    assert not np.allclose(after["body_inertia"][forearm], before["body_inertia"][forearm])

    rng = np.random.default_rng(0)
    qpos = rng.uniform(*nominal.unwrapped.model.jnt_range.T)
    qvel, action = rng.normal(size=7), rng.uniform(-1, 1, size=7)
    a, b = _step_from(nominal, qpos, qvel, action), _step_from(perturbed, qpos, qvel, action)
    assert np.abs(a - b).max() > 1e-4  # same state and action, different next state


def test_mass_of_one_body_matches_a_directly_compiled_spec_and_changes_the_dynamics():
    task = tasks.make("hopper")
    nominal, perturbed = task.make_env(0), task.make_env(0)
    apply_perturbation(task, perturbed, parse_perturbation("dynamics@0:target=mass,scale=1.5,body=torso"))
    spec = mujoco.MjSpec.from_file(nominal.unwrapped.fullpath)
    for geom in spec.body("torso").geoms:
        geom.density *= 1.5
    direct = spec.compile()
    m0, m1 = nominal.unwrapped.model, perturbed.unwrapped.model
    np.testing.assert_array_equal(m1.body_mass, direct.body_mass)
    np.testing.assert_array_equal(m1.body_inertia, direct.body_inertia)
    torso = m0.body("torso").id
    assert m1.body_mass[torso] == pytest.approx(1.5 * m0.body_mass[torso])
    others = np.arange(m0.nbody) != torso
    np.testing.assert_array_equal(m1.body_mass[others], m0.body_mass[others])
    qpos, qvel = perturbed.unwrapped.init_qpos, np.full(m0.nv, 0.1)
    a = _step_from(nominal, qpos, qvel, np.ones(3))
    b = _step_from(perturbed, qpos, qvel, np.ones(3))
    assert np.abs(a - b).max() > 1e-4


def test_damping_and_all_body_mass_on_inverted_pendulum():
    task = tasks.make("inverted-pendulum")
    nominal, heavy, damped = task.make_env(0), task.make_env(0), task.make_env(0)
    apply_perturbation(task, heavy, parse_perturbation("dynamics@0"))  # default: mass x 1.5
    apply_perturbation(task, damped, parse_perturbation("dynamics@0:target=damping"))  # x 2
    m0 = nominal.unwrapped.model
    np.testing.assert_allclose(heavy.unwrapped.model.body_mass[1:], 1.5 * m0.body_mass[1:])
    np.testing.assert_allclose(heavy.unwrapped.model.body_inertia[1:], 1.5 * m0.body_inertia[1:])
    np.testing.assert_allclose(damped.unwrapped.model.dof_damping, 2.0 * m0.dof_damping)
    assert damped.unwrapped.model.dof_damping.max() > 0
    qpos, qvel = np.array([0.1, 0.05]), np.array([0.5, -0.5])
    base = _step_from(nominal, qpos, qvel, np.array([1.0]))
    for env in (heavy, damped):
        assert np.abs(_step_from(env, qpos, qvel, np.array([1.0])) - base).max() > 1e-4
    # the env keeps working after the swap: resets, steps, same spaces
    obs, _ = heavy.reset(seed=1)
    assert obs.shape == (4,) and np.isfinite(heavy.step(np.zeros(1))[0]).all()


# --- goals ----------------------------------------------------------------------------------

def _goals(env, n=200) -> np.ndarray:
    return np.stack([env.reset()[0][TARGET] for _ in range(n)])


def _inside(goals, low, high) -> np.ndarray:
    return np.all((goals >= np.asarray(low)) & (goals <= np.asarray(high)), axis=1)


def test_goal_shift_moves_the_goal_sampler_to_the_new_box():
    task = tasks.make("reacher-7dof")
    env = task.make_env(0)
    assert _inside(_goals(env), GOAL_LOW, GOAL_HIGH).all()
    apply_perturbation(task, env, parse_perturbation("goals@0"))
    shift = np.array([0.0, -1.2, 0.0])
    goals = _goals(env)
    assert _inside(goals, np.add(GOAL_LOW, shift), np.add(GOAL_HIGH, shift)).all()
    assert not _inside(goals, GOAL_LOW, GOAL_HIGH).any()


def test_reacher_score_is_the_mean_fingertip_goal_distance_after_each_step():
    obs = torch.zeros(2, 4, 20)  # 2 episodes of 3 steps (+ reset obs)
    obs[:, 0, FINGER.start] = 100.0  # the reset observation does not count
    obs[0, 1:, FINGER.start] = torch.tensor([0.3, 0.6, 0.9])
    obs[1, 1:, TARGET.start + 2] = 0.4
    torch.testing.assert_close(reacher_goal_distance(obs), torch.tensor([0.6, 0.4]))


# --- in the game ----------------------------------------------------------------------------

SCHEDULE = dict(initial_samples=100, samples_per_iteration=100, policy_steps=1, model_epochs=1,
                model_min_steps=1, model_max_steps=5)
NO_TIMES = lambda row: {k: v for k, v in row.items() if not k.endswith("seconds")}  # noqa: E731


def tiny_game(perturbations=(), seed=0) -> Game:
    torch.manual_seed(seed)
    task = tasks.make("reacher-7dof")
    policy = NPGPolicyPlayer(task, NPGConfig(num_trajectories=8, horizon_cap=10, value_hidden_sizes=(16,)),
                             PolicyConfig(hidden_sizes=(16,)), seed=seed)
    model = DynamicsEnsemble(task.obs_dim, task.act_dim, ModelConfig(ensemble_size=2, hidden_sizes=(16,)),
                             seed=seed)
    return Game(task, policy, model, PAL(**SCHEDULE), seed=seed, eval_episodes=2,
                perturbations=perturbations)


def same_rows(a, b) -> bool:
    same = lambda x, y: x == y or (isinstance(x, float) and math.isnan(x) and math.isnan(y))  # noqa: E731
    return all(a[k] == b[k] or same(a[k], b[k]) for k in a) and a.keys() == b.keys()


@pytest.fixture(scope="module")
def unperturbed_rows():
    return [NO_TIMES(r.row()) for r in tiny_game().play(400)]


def test_a_perturbation_fires_once_at_its_sample_count_on_both_envs(unperturbed_rows, tmp_path):
    game = tiny_game(["dynamics@150"])
    assert game.env.unwrapped.forearm_length == NOMINAL_FOREARM
    recorder = RunRecorder(tmp_path, "", "test", score_name="goal_distance")
    reports = []
    for report in game.play(400):
        recorder.log(report)
        reports.append(report)
    fired = [r for r in reports if r.perturbation]
    assert [r.iteration for r in fired] == [2]  # iteration 2 starts with 200 >= 150 samples
    assert fired[0].perturbation == "dynamics@150:target=forearm,scale=1.3"
    for env in (game.env, game.eval_env):
        assert env.unwrapped.forearm_length == pytest.approx(1.3 * NOMINAL_FOREARM)
    assert all(math.isfinite(r.eval_score) and r.eval_score > 0 for r in reports)
    # before it fired, the run is the unperturbed one; afterwards the world differs
    rows = [NO_TIMES(r.row()) for r in reports]
    assert all(same_rows(a, b) for a, b in zip(rows[:2], unperturbed_rows[:2]))
    assert rows[2]["eval_return"] != unperturbed_rows[2]["eval_return"]

    on_disk = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert [r["perturbation"] for r in on_disk] == ["", "", fired[0].perturbation, ""]
    assert perturbation_marks(on_disk) == [(200.0, fired[0].perturbation)]
    assert recorder.plot().stat().st_size > 5000


def test_runs_without_perturbations_are_unchanged(unperturbed_rows):
    # the machinery (checks, bookkeeping) costs no randomness: a perturbation that never comes
    # due leaves the run exactly as without one
    never = [NO_TIMES(r.row()) for r in tiny_game(["goals@100000"]).play(400)]
    assert all(same_rows(a, b) for a, b in zip(never, unperturbed_rows))
    assert all(r["perturbation"] == "" for r in unperturbed_rows)


def test_resume_reapplies_fired_perturbations_and_continues_exactly(tmp_path):
    perturb = ["goals@50", "dynamics@150:target=mass,scale=2"]
    straight = [NO_TIMES(r.row()) for r in tiny_game(perturb).play(400)]
    first = tiny_game(perturb)
    list(first.play(300))
    torch.save(first.state_dict(), tmp_path / "state.pt")
    state = torch.load(tmp_path / "state.pt", weights_only=True)
    assert state["perturbations_fired"] == ["goals@50:dx=0,dy=-1.2,dz=0",
                                            "dynamics@150:target=mass,scale=2"]

    resumed = tiny_game(perturb)  # fresh envs: the nominal world
    nominal_mass = resumed.env.unwrapped.model.body_mass.copy()
    resumed.load_state_dict(state)
    for env in (resumed.env, resumed.eval_env):
        np.testing.assert_allclose(env.unwrapped.model.body_mass, 2 * nominal_mass)
        assert env.unwrapped.goal_box[0][1] == pytest.approx(GOAL_LOW[1] - 1.2)
    last = resumed.step()
    assert last.perturbation == ""  # fired before the checkpoint: not again
    assert same_rows(NO_TIMES(last.row()), straight[3])


def test_loading_state_into_a_game_that_already_changed_its_world_starts_from_fresh_envs():
    game = tiny_game(["dynamics@0:target=mass,scale=2"])
    nominal_mass = game.env.unwrapped.model.body_mass.copy()
    game.step()
    state = game.state_dict()
    game.load_state_dict(state)  # must not compound the mass change to x4
    np.testing.assert_allclose(game.env.unwrapped.model.body_mass, 2 * nominal_mass)
    assert game.perturbations.fired_texts() == ["dynamics@0:target=mass,scale=2"]


def test_a_game_refuses_a_perturbation_its_task_cannot_take_before_training():
    task = tasks.make("inverted-pendulum")
    with pytest.raises(UserInputError, match="no goal distribution"):
        Game(task, None, None, PAL(), perturbations=["goals@100"])


def test_recorder_rewrites_the_header_when_columns_appear(tmp_path):
    (tmp_path / "metrics.csv").write_text("iteration,samples\n0,100\n")
    recorder = RunRecorder(tmp_path, "", "test")

    class Report:
        def row(self):
            return {"iteration": 1, "samples": 200, "perturbation": "goals@150"}

    recorder.log(Report())
    rows = list(csv.DictReader(open(tmp_path / "metrics.csv")))
    assert rows == [{"iteration": "0", "samples": "100", "perturbation": ""},
                    {"iteration": "1", "samples": "200", "perturbation": "goals@150"}]


def test_dynamics_on_a_world_that_is_not_mujoco_is_a_clear_error():
    import gymnasium as gym

    from stackelberg.tasks import Task

    task = Task(name="swingup", make_env=lambda seed: gym.make("Pendulum-v1"),
                reward_fn=lambda o, a, n: n[..., 0], termination_fn=lambda o, a, n: n[..., 0] > 9,
                horizon=200, obs_dim=3, act_dim=1, act_low=np.array([-2.0]), act_high=np.array([2.0]))
    with pytest.raises(UserInputError, match="'swingup' cannot take a dynamics change: .*not a MuJoCo env"):
        check_perturbations(task, [parse_perturbation("dynamics@100")])
