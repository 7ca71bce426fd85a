"""A user's own task and players, from a module outside the package, through the CLI and a
sweep, with resume: `--import MODULE` (recorded as run.imports) and the player registries."""
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from stackelberg import Game, PAL, RunFolder, RunRecorder, Task, TaskError, check_task, tasks
from stackelberg.runner.run_folder import load_checkpoint

MODULE = '''
"""A user's game: Pendulum-v1 swing-up, a trivial policy player and a small ensemble."""
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from stackelberg import DynamicsEnsemble, ModelConfig, register_model_player, register_policy_player, tasks
from stackelberg.core.knobs import knob
from stackelberg.core.protocols import ImproveReport
from stackelberg.tasks import Task


def swingup_reward(obs, act, next_obs):
    theta = torch.atan2(obs[..., 1], obs[..., 0])
    torque = act[..., 0].clamp(-2.0, 2.0)
    return -(theta**2 + 0.1 * obs[..., 2] ** 2 + 0.001 * torque**2)


def never_done(obs, act, next_obs):
    return torch.zeros(obs.shape[:-1], dtype=torch.bool)


def swingup():
    return Task(name="my-swingup", make_env=lambda seed: gym.make("Pendulum-v1"),
                reward_fn=swingup_reward, termination_fn=never_done, horizon=200,
                obs_dim=3, act_dim=1, act_low=np.array([-2.0]), act_high=np.array([2.0]))


@dataclass
class PlannerConfig:
    """The planner's own settings: its section [planner]."""

    amplitude: float = knob(2.0, "largest action", limits="(0, 2]", resumable=True)
    repeats: int = knob(1, "improve steps per step the schedule asks for", limits=">= 1")


class Planner:
    """Random actions up to its amplitude; counts its improve steps; keeps a link to the model
    (attach)."""

    def __init__(self, task, settings, seed):
        self.task, self.model, self.steps = task, None, torch.zeros((), dtype=torch.long)
        self.settings = settings

    def attach(self, model):
        self.model = model

    def act(self, obs, deterministic=False):
        return (torch.rand(*obs.shape[:-1], self.task.act_dim) * 2 - 1) * self.settings.amplitude

    def improve(self, model, replay, initial_states, steps):
        assert model is self.model, "the Game re-attaches the model after a load"
        self.steps += steps * self.settings.repeats
        return ImproveReport(steps=steps, kl=0.0, model_return=0.0)

    def state_dict(self):
        return {"steps": self.steps.clone(), "amplitude": torch.tensor(self.settings.amplitude)}

    def load_state_dict(self, state):
        self.steps = state["steps"].clone()


@dataclass
class TinyConfig:
    """The tiny model's own settings: its section [tiny]."""

    width: int = knob(16, "hidden layer width", limits=">= 1")


def tiny_model(settings, context):
    return DynamicsEnsemble(context.task.obs_dim, context.task.act_dim,
                            ModelConfig(ensemble_size=2, hidden_sizes=(settings.width,)),
                            context.device, seed=context.seed)


tasks.register("my-swingup", swingup)
register_policy_player("planner", lambda settings, context: Planner(context.task, settings, context.seed),
                       model_player="tiny", config=PlannerConfig, diverge_knobs=[("", "amplitude")])
register_model_player("tiny", tiny_model, config=TinyConfig)
'''

FAST = ["--samples", "400", "--initial-samples", "200", "--samples-per-iteration", "200",
        "--model-epochs", "1", "--model-min-steps", "2", "--eval-episodes", "1", "--no-progress"]


def cli(tmp_path, *argv):
    """`python -m stackelberg.run` in a fresh process, from the module's folder, as a user runs it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(tmp_path)}
    return subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True,
                          cwd=tmp_path, env=env, timeout=600)


def test_own_task_and_players_through_the_cli_a_resume_and_a_sweep(tmp_path):
    """A user's players with their own settings dataclasses, from a module outside the package:
    their sections come from a TOML file and `--set`, are recorded, changed on resume (a
    resumable knob only), overridden in a sweep, and the report and render read the run."""
    (tmp_path / "mygame.py").write_text(MODULE)
    (tmp_path / "mine.toml").write_text('[run]\nimports = ["mygame"]\n[planner]\nrepeats = 3\n'
                                        '[tiny]\nwidth = 8\n')
    out = tmp_path / "run"
    first = cli(tmp_path, "stackelberg.run", "--config", "mine.toml", "--task", "my-swingup",
                "--policy", "planner", "--set", "planner.amplitude=1.5", *FAST[2:],
                "--samples", "200", "--out", str(out))
    assert first.returncode == 0, first.stderr
    folder = RunFolder(out)
    record = tomllib.loads(folder.config_file.read_text())
    assert record["run"]["imports"] == ["mygame"] and record["run"]["model_player"] == "auto"
    assert record["planner"] == {"amplitude": 1.5, "repeats": 3} and record["tiny"] == {"width": 8}
    assert len(folder.read_metrics()) == 1
    state = load_checkpoint(folder.checkpoint_file)
    assert float(state["policy"]["amplitude"]) == 1.5  # the factory got its own settings
    assert int(state["policy"]["steps"]) == 3 * int(folder.read_metrics()[0]["improve_steps"])
    assert state["model"]["module"]["net.net.0.weight"].shape[-1] == 8  # (members, in, width)

    # --resume without --import: the run imports its own modules again; a resumable knob of
    # the player's own section may change, another may not
    refused = cli(tmp_path, "stackelberg.run", "--resume", "--out", str(out), "--samples", "400",
                  "--set", "planner.repeats=2")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "would change planner.repeats from 3 to 2" in refused.stderr
    resumed = cli(tmp_path, "stackelberg.run", "--resume", "--out", str(out), "--samples", "400",
                  "--set", "planner.amplitude=0.5")
    assert resumed.returncode == 0, resumed.stderr
    rows = folder.read_metrics()
    assert [int(r["samples"]) for r in rows] == [200, 400]
    state = load_checkpoint(folder.checkpoint_file)
    assert int(state["policy"]["steps"]) > 0 and int(state["samples"]) == 400
    assert float(state["policy"]["amplitude"]) == 0.5
    assert tomllib.loads(folder.config_file.read_text())["planner"]["amplitude"] == 0.5
    assert "planner.amplitude 1.5 -> 0.5" in folder.changes_log.read_text()

    recipe = tmp_path / "sweep.toml"
    recipe.write_text(textwrap.dedent(f"""\
        [sweep]
        name = "mine"
        tasks = ["my-swingup"]
        algos = ["pal", "gda"]
        seeds = [0]
        samples = 400
        out = "{tmp_path / 'sweep'}"
        imports = ["mygame"]

        [overrides]
        "run.policy" = "planner"
        "run.eval_episodes" = 1
        "schedule.initial_samples" = 200
        "schedule.samples_per_iteration" = 200
        "schedule.model_epochs" = 1
        "schedule.model_min_steps" = 2
        "planner.amplitude" = 0.25

        [overrides.gda]
        tiny.width = 4
        """))
    swept = cli(tmp_path, "stackelberg.sweep", str(recipe), "--workers", "2")
    assert swept.returncode == 0, swept.stderr + swept.stdout
    for algo, width in (("pal", 16), ("gda", 4)):
        cell = RunFolder(tmp_path / "sweep" / f"my-swingup-{algo}-s0")
        assert [int(r["samples"]) for r in cell.read_metrics()] == [200, 400]
        cell_record = tomllib.loads(cell.config_file.read_text())
        assert cell_record["planner"]["amplitude"] == 0.25 and cell_record["tiny"]["width"] == width
    # diagnose reads the run's config (and so imports the module) like --resume does; in a
    # fresh process, so the module's registrations do not leak into other tests
    code = (f"from stackelberg.cli.diagnose import load_config; "
            f"print(load_config(__import__('pathlib').Path({str(out)!r})).planner)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert shown.returncode == 0 and "amplitude=0.5" in shown.stdout, shown.stderr

    reported = cli(tmp_path, "stackelberg.report", str(out),
                   *[str(p) for p in sorted((tmp_path / "sweep").glob("my-swingup-*"))])
    assert reported.returncode == 0, reported.stderr
    assert "pal+planner" in reported.stdout and "gda+planner" in reported.stdout
    # render films a MuJoCo task: the same players on the built-in pendulum
    filmed = tmp_path / "filmed"
    made = cli(tmp_path, "stackelberg.run", "--import", "mygame", "--task", "inverted-pendulum",
               "--policy", "planner", *FAST[2:], "--samples", "200", "--out", str(filmed))
    assert made.returncode == 0, made.stderr
    video = tmp_path / "episode.gif"
    rendered = cli(tmp_path, "stackelberg.render", str(filmed), "--gif", "--max-steps", "5",
                   "--width", "64", "--height", "64", "--out", str(video))
    assert rendered.returncode == 0 and video.stat().st_size > 0, rendered.stderr


@pytest.mark.parametrize("how,message", [
    (["--set", "planner.amplitude=3"], "planner.amplitude must be in (0, 2], got 3.0"),
    (["--set", "planner.amplitude=wide"], "planner.amplitude must be float, got 'wide'"),
    (["--set", "planner.width=3"], "unknown config key 'planner.width'; valid keys in [planner]: "
                                   "amplitude, repeats"),
    (["--set", "tiny.width=0"], "tiny.width must be >= 1, got 0"),
    (["--config", "bad.toml"], "[planner] must be a table"),
    (["--config", "typo.toml"], "unknown config key 'planner.amplitud'"),
])
def test_a_wrong_value_in_an_own_section_is_one_line_and_exit_2(tmp_path, how, message):
    (tmp_path / "mygame.py").write_text(MODULE)
    (tmp_path / "bad.toml").write_text('planner = 3\n')
    (tmp_path / "typo.toml").write_text('[planner]\namplitud = 1.0\n')
    proc = cli(tmp_path, "stackelberg.run", "--import", "mygame", "--task", "my-swingup",
               "--policy", "planner", *how, "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "x").exists()


def test_an_unknown_import_is_one_line(tmp_path):
    proc = cli(tmp_path, "stackelberg.run", "--import", "no_such_module_xyz", "--out",
               str(tmp_path / "x"))
    assert proc.returncode == 2 and "cannot import 'no_such_module_xyz'" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "x").exists()


def test_a_recorder_gives_a_loop_of_your_own_metrics_checkpoints_and_resume(tmp_path):
    """RunRecorder + RunFolder outside the CLI: the same files, and a resume that continues."""
    from stackelberg import DynamicsEnsemble, ModelConfig, NPGConfig, NPGPolicyPlayer

    def build():
        task = tasks.make("inverted-pendulum")
        policy = NPGPolicyPlayer(task, NPGConfig(num_trajectories=4, horizon_cap=10), seed=0)
        model = DynamicsEnsemble(task.obs_dim, task.act_dim,
                                 ModelConfig(ensemble_size=2, hidden_sizes=(16,)), seed=0)
        schedule = PAL(policy_steps=1, initial_samples=100, samples_per_iteration=100,
                       model_epochs=1, model_min_steps=1)
        return Game(task, policy, model, schedule, seed=0, eval_episodes=1)

    game = build()
    recorder = RunRecorder(tmp_path, "# my loop\n", "mine")
    game.on_collect = recorder.save_data
    for report in game.play(200):
        recorder.save_iteration(game, report)
    folder = RunFolder(tmp_path)
    before = folder.read_metrics()
    assert len(before) == 2 and int(before[-1]["samples"]) == game.samples >= 200
    assert folder.checkpoint_file.is_file() and folder.best_policy_file.is_file()
    assert folder.data_file(1).is_file()

    again = build()
    recorder = RunRecorder(tmp_path, "# my loop\n", "mine")
    again.on_collect = recorder.save_data
    assert recorder.resume(again) and again.samples == game.samples
    for report in again.play(game.samples + 1):
        recorder.save_iteration(again, report)
    after = folder.read_metrics()
    assert after[:2] == before and len(after) == 3


# --- a wrong Task: one line naming the field --------------------------------------------------

def _reward(obs, act, next_obs):
    return -(obs ** 2).sum(-1)


def _done(obs, act, next_obs):
    return torch.zeros(obs.shape[:-1], dtype=torch.bool)


def _task(**changes):
    fields = dict(name="t", make_env=lambda seed: gym.make("Pendulum-v1"), reward_fn=_reward,
                  termination_fn=_done, horizon=200, obs_dim=3, act_dim=1,
                  act_low=np.array([-2.0]), act_high=np.array([2.0]))
    return Task(**{**fields, **changes})


class _Discrete(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (3,))
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        return np.zeros(3, np.float32), {}

    def step(self, action):
        return np.zeros(3, np.float32), 0.0, False, False, {}


@pytest.mark.parametrize("changes,field", [
    (dict(obs_dim=4), "obs_dim is 4"),
    (dict(act_dim=2, act_low=np.array([-2.0, -2.0]), act_high=np.array([2.0, 2.0])), "act_dim is 2"),
    (dict(act_low=np.array([-1.0])), "act_low [-1.0] differs"),
    (dict(act_low=np.array([-2.0, 0.0])), "act_low must have shape (1,)"),
    (dict(act_low=np.array([3.0])), "act_low must be below act_high"),
    (dict(horizon=0), "horizon must be a positive int"),
    (dict(angle_dims=(5,)), "angle_dims [5] are outside"),
    (dict(make_env=lambda: gym.make("Pendulum-v1")), "make_env must take the seed"),
    (dict(make_env=lambda seed: _Discrete()), "action space is Discrete"),
    (dict(reward_fn=lambda o, a, n: -(o ** 2).sum(-1, keepdim=True)), "reward_fn must return one value per transition"),
    (dict(reward_fn=lambda o, a, n: (o[..., 0] > 0)), "reward_fn must return a floating-point tensor"),
    (dict(reward_fn=lambda o, a, n: o[:, 0]), "reward_fn must return one value per transition"),
    (dict(termination_fn=lambda o, a, n: torch.zeros(o.shape[:-1])), "termination_fn must return a bool tensor"),
    (dict(termination_fn=lambda o, a, n: False), "termination_fn must return a torch.Tensor"),
])
def test_a_wrong_task_is_one_line_naming_the_field(changes, field):
    task = _task(**changes)
    with pytest.raises(TaskError) as err:
        Game(task, None, None, PAL(), seed=0)  # type: ignore[arg-type]
    message = str(err.value)
    assert field in message and message.startswith("task 't':") and "\n" not in message


def test_check_task_measures_reward_and_termination_parity():
    assert check_task(tasks.make("hopper"), 200).ok
    wrong = tasks.make("inverted-pendulum")
    wrong = Task(**{**{f: getattr(wrong, f) for f in wrong.__dataclass_fields__},
                    "reward_fn": lambda o, a, n: torch.zeros(o.shape[:-1])})
    report = check_task(wrong, 50)
    assert not report.ok and report.reward_max_error == pytest.approx(1.0)


# --- the tasks package: installed as stackelberg.tasks, never as a top-level `tasks` ----------

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_a_users_own_tasks_module_does_not_shadow_the_package(tmp_path):
    """A tasks.py beside the user's script: `import stackelberg` must not import it."""
    (tmp_path / "tasks.py").write_text('raise ImportError("the user tasks.py was imported")\n')
    proc = subprocess.run([sys.executable, "-c", "import stackelberg, stackelberg.tasks as t; "
                           "print(t.make('inverted-pendulum').name)"],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0 and proc.stdout.strip() == "inverted-pendulum", proc.stderr


def test_a_source_checkout_runs_without_being_installed():
    """`python -m stackelberg.run` from the repository root with no installed package (the
    editable install's finder removed): stackelberg.tasks is the checkout's tasks/ folder."""
    code = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in "
            "repr(f).lower()]; import runpy; sys.argv = ['run', '--help']; "
            "import stackelberg.tasks as t; assert t.__file__.startswith(%r), t.__file__; "
            "runpy.run_module('stackelberg.run', run_name='__main__')" % os.path.join(REPO, "tasks"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert proc.returncode == 0 and "--import MODULE" in proc.stdout, proc.stderr


def test_the_console_script_dispatches_subcommands(capsys):
    from stackelberg.cli.main import COMMANDS, main

    assert main(["--help"]) == 0
    listed = capsys.readouterr().out
    for name in COMMANDS:  # each listed command reaches its own parser
        assert f"  {name} " in listed
        with pytest.raises(SystemExit) as exit_info:
            main([name, "--help"])
        assert exit_info.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: python -m stackelberg.{name} "), name
    assert main(["nope"]) == 2


def test_every_package_folder_is_installed():
    """A non-editable install ships only the packages pyproject.toml lists: a subpackage left out
    of the list (a player's) would import from a checkout and fail from a wheel."""
    listed = set(tomllib.loads((Path(REPO) / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"stackelberg." + ".".join(p.parent.relative_to(Path(REPO) / "stackelberg").parts)
               for p in (Path(REPO) / "stackelberg").rglob("__init__.py")}
    folders = {name.rstrip(".") for name in folders}
    tasks = {"stackelberg.tasks" + "".join("." + part for part in p.parent.relative_to(Path(REPO) / "tasks").parts)
             for p in (Path(REPO) / "tasks").rglob("__init__.py")}
    assert folders | tasks <= listed, sorted((folders | tasks) - listed)
