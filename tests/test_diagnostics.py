"""Model-error amplification: exact zeros with a perfect model, hand-computed growth with a
biased one, masking after real termination, and `python -m stackelberg.diagnose` on a real run."""
import csv
import json
import math
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch

from stackelberg import tasks
from stackelberg.cli import diagnose
from stackelberg.cli import run
from stackelberg.analysis.diagnostics import (angle_component, closed_loop_states, error_curves,
                                     model_error_amplification, open_loop_states, world_paths)
from stackelberg.core.errors import UserInputError
from stackelberg.npg.player import NPGPolicyPlayer
from stackelberg.tasks import Task

from run_flags import FAST


# --- a toy world whose errors can be computed by hand ----------------------------------------

class LineEnv(gym.Env):
    """x' = x + a; observation [x, k] with k = 1 + seed % 2 constant. With `terminate`, the
    episode ends once x >= 3k (with a = 1 from x = 0: after step 3k)."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float64)
    action_space = gym.spaces.Box(-10.0, 10.0, (1,), np.float64)

    def __init__(self, terminate: bool):
        self.terminate = terminate
        self.s = np.zeros(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.s = np.array([0.0, 1.0 + (seed % 2)])
        return self.s.copy(), {}

    def step(self, action):
        self.s[0] += float(action[0])
        done = bool(self.terminate and self.s[0] >= 3 * self.s[1])
        return self.s.copy(), 0.0, done, False, {}


def line_task(terminate: bool = False, horizon: int = 10) -> Task:
    zero = lambda o, a, n: torch.zeros(n.shape[:-1])
    return Task(name="line", make_env=lambda seed: LineEnv(terminate), reward_fn=zero,
                termination_fn=zero, horizon=horizon, obs_dim=2, act_dim=1,
                act_low=np.array([-10.0]), act_high=np.array([10.0]))


class BiasedLine:
    """Member e predicts x' = x + a + (e + 1) * c * k: a known constant offset per step."""

    def __init__(self, c: float, ensemble_size: int = 2):
        self.c, self.ensemble_size = c, ensemble_size

    def step(self, obs, act):
        scale = torch.arange(1, self.ensemble_size + 1, dtype=obs.dtype).view(-1, 1)
        nxt = obs.clone()
        nxt[..., 0] = obs[..., 0] + act[..., 0] + scale * self.c * obs[..., 1]
        return nxt


class Constant:
    def act(self, obs, deterministic=False):
        return torch.ones(*obs.shape[:-1], 1)


class Feedback:
    """a = -g x: pulls the state back to 0, in the world and in the model alike."""

    def __init__(self, g: float):
        self.g = g

    def act(self, obs, deterministic=False):
        return -self.g * obs[..., :1]


def test_constant_offset_grows_linearly_open_and_closed_loop():
    c, starts, T = 0.1, 4, 10  # k = 1, 2, 1, 2: mean 1.5
    result = model_error_amplification(Constant(), BiasedLine(c), line_task(), starts, T)
    t = torch.arange(T + 1, dtype=torch.float32)
    for e in range(2):
        expected = t * (e + 1) * c * 1.5
        torch.testing.assert_close(result.open_loop[e], expected)
        torch.testing.assert_close(result.closed_loop[e], expected)  # the policy ignores the state
    torch.testing.assert_close(result.curve("open"), t * 1.5 * c * 1.5)
    assert result.alive.tolist() == [starts] * (T + 1)


def test_feedback_damps_closed_loop_error_below_open_loop():
    c, g, T = 0.1, 0.5, 12  # world stays at x = 0; the model's error obeys e' = (1 - g) e + c k
    result = model_error_amplification(Feedback(g), BiasedLine(c, 1), line_task(horizon=T), 2, T)
    t = torch.arange(T + 1, dtype=torch.float32)
    torch.testing.assert_close(result.open_loop[0], t * c * 1.5)
    torch.testing.assert_close(result.closed_loop[0], c * 1.5 * (1 - (1 - g) ** t) / g)
    assert (result.closed_loop[0, 2:] < result.open_loop[0, 2:]).all()


def test_errors_stop_at_real_termination():
    c, T = 0.1, 10  # start 0 (k = 1) ends after step 3, start 1 (k = 2) after step 6
    result = model_error_amplification(Constant(), BiasedLine(c, 1), line_task(True, T), 2, T)
    assert result.alive.tolist() == [2, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0]
    curve = result.open_loop[0]
    for t in range(4):
        assert curve[t].item() == pytest.approx(t * c * 1.5, abs=1e-6)  # both starts
    for t in range(4, 7):
        assert curve[t].item() == pytest.approx(t * c * 2.0, abs=1e-6)  # only the k = 2 start
    assert torch.isnan(curve[7:]).all()
    payload = result.to_dict()
    assert payload["open_loop"]["mean"][7] is None and json.dumps(payload)


def test_components_select_and_wrap():
    task = line_task()
    result = model_error_amplification(Constant(), BiasedLine(0.1), task, 2, 5, component=[1])
    assert result.open_loop.abs().max() == 0  # k is predicted exactly
    custom = model_error_amplification(Constant(), BiasedLine(0.1), task, 2, 5,
                                       component=lambda s: 2 * s[..., :1])
    full = model_error_amplification(Constant(), BiasedLine(0.1), task, 2, 5)
    torch.testing.assert_close(custom.open_loop, 2 * full.open_loop)
    with pytest.raises(UserInputError, match="out of range"):
        model_error_amplification(Constant(), BiasedLine(0.1), task, 2, 5, component=[2])
    angle = angle_component(0, 1)
    world = torch.tensor([[math.cos(math.pi - 0.05), math.sin(math.pi - 0.05)]])
    model = torch.tensor([[math.cos(-math.pi + 0.05), math.sin(-math.pi + 0.05)]])
    assert angle.distance(world, model).item() == pytest.approx(0.1, abs=1e-5)


# --- a perfect model of InvertedPendulum-v5 (its observation is the full MuJoCo state) -------

class PerfectPendulum:
    """Sets the simulator to each (member, row) state and steps it: the world itself."""

    ensemble_size = 2

    def __init__(self):
        self.env = gym.make("InvertedPendulum-v5").unwrapped
        self.env.reset(seed=0)
        self.calls = []

    def step(self, obs, act):
        self.calls.append(tuple(obs.shape))
        out = torch.empty_like(obs)
        for idx in np.ndindex(*obs.shape[:-1]):
            s = obs[idx].double().numpy()
            self.env.set_state(s[:2], s[2:])
            nxt, *_ = self.env.step(np.clip(act[idx].double().numpy(), -3.0, 3.0))
            out[idx] = torch.as_tensor(nxt, dtype=obs.dtype)
        return out


def test_perfect_model_has_no_error_in_either_loop():
    task = tasks.make("inverted-pendulum")
    policy = NPGPolicyPlayer(task, seed=0)  # untrained: the pole falls, so termination is hit
    model = PerfectPendulum()
    world = world_paths(task, policy, 4, 40, seed=3)
    assert (~world.valid[:, -1]).any()  # some episodes ended before the horizon
    open_err = error_curves(world, open_loop_states(model, task, world), _full())
    closed_err = error_curves(world, closed_loop_states(model, task, policy, world.states[:, 0], 40), _full())
    assert all(shape[:2] == (2, 4) for shape in model.calls)  # every member in one batched call
    alive = world.valid.any(0)
    assert open_err[:, alive].abs().max() < 1e-4
    assert closed_err[:, alive].abs().max() < 1e-4
    assert torch.isnan(open_err[:, ~alive]).all()


def _full():
    from stackelberg.analysis.diagnostics import FULL_STATE
    return FULL_STATE


# --- the CLI on a tiny real run ---------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("diag") / "run"
    assert run.main(FAST + ["--out", str(out), "--set", "run.snapshot_every=1"]) == 0
    assert len(list((out / "snapshots").glob("iter_*.pt"))) == 2
    return out


def test_cli_writes_figure_and_numbers(tiny_run):
    assert diagnose.main([str(tiny_run), "--starts", "3", "--horizon", "15"]) == 0
    assert (tiny_run / "model_error.png").stat().st_size > 5000
    stages = json.loads((tiny_run / "model_error.json").read_text())
    assert [s["iteration"] for s in stages] == [0, 1]
    assert stages[1]["samples"] >= 500 and stages[0]["starts"] == 3
    members = stages[0]["open_loop"]["members"]
    assert len(members) == 4 and len(members[0]) == 16 and members[0][0] == 0.0
    rows = list(csv.DictReader(open(tiny_run / "model_error.csv")))
    assert len(rows) == 2 * 2 * 16 and {r["loop"] for r in rows} == {"open", "closed"}


def test_cli_selected_snapshot_component_and_out(tiny_run, tmp_path):
    png = tmp_path / "fig" / "angle.png"
    assert diagnose.main([str(tiny_run), "--snapshots", "1", "--starts", "2", "--horizon", "5",
                          "--component", "task", "--out", str(png)]) == 0
    stages = json.loads(png.with_suffix(".json").read_text())
    assert len(stages) == 1 and stages[0]["component"] == "pole angle (rad)"
    assert png.exists() and png.with_suffix(".csv").exists()


@pytest.mark.parametrize("extra,message", [
    (["--snapshots", "7"], "no snapshot for iteration 7; available: 0, 1"),
    (["--snapshots", "x"], "--snapshots expects"),
    (["--component", "4"], "state index 4 is out of range"),
    (["--component", "a"], "--component expects"),
    (["--starts", "0"], "must be >= 1"),
])
def test_cli_bad_arguments_exit_2(tiny_run, extra, message, capsys):
    assert diagnose.main([str(tiny_run)] + extra) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_cli_bad_folders_exit_2(tiny_run, tmp_path, capsys):
    assert diagnose.main([str(tmp_path / "missing")]) == 2
    assert "not a run folder" in capsys.readouterr().err
    assert diagnose.main([str(tmp_path)]) == 2
    assert "not a run folder (no config.toml)" in capsys.readouterr().err
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.toml").write_text((tiny_run / "config.toml").read_text())
    assert diagnose.main([str(bare)]) == 2
    assert "has no snapshots" in capsys.readouterr().err
    (bare / "snapshots").mkdir()
    (bare / "snapshots" / "iter_0000.pt").write_bytes(b"not a checkpoint")
    (bare / "checkpoint.pt").write_bytes(b"")
    assert diagnose.main([str(bare)]) == 2
    assert "cannot load" in capsys.readouterr().err


def test_module_entry_point_exit_code_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "stackelberg.diagnose", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().startswith("error:")


def test_replot_from_json_records_equals_the_measurement(tiny_run, tmp_path, capsys):
    """A figure of several runs from their JSON alone: the numbers read back are the ones
    written (members, alive, NaN where a look-ahead had no start left)."""
    png = tmp_path / "m.png"
    assert diagnose.main([str(tiny_run), "--starts", "2", "--horizon", "6", "--out", str(png)]) == 0
    stages, title = diagnose.read_numbers(png.with_suffix(".json"))
    written = json.loads(png.with_suffix(".json").read_text())
    assert title.startswith("PAL on inverted-pendulum") and [s["iteration"] for s in stages] == [0, 1]
    for stage, raw in zip(stages, written):
        r = stage["result"]
        assert r.open_loop.shape == (4, 7) and r.starts == 2
        assert r.alive.tolist() == raw["alive"]
        expect = torch.tensor([[float("nan") if v is None else v for v in m]
                               for m in raw["closed_loop"]["members"]])
        assert torch.equal(r.closed_loop.isnan(), expect.isnan())
        assert torch.allclose(r.closed_loop.nan_to_num(), expect.nan_to_num())
    fig = tmp_path / "two.png"
    json_path = str(png.with_suffix(".json"))
    assert diagnose.main(["--replot", json_path, json_path, "--labels", "PAL", "MAL",
                          "--out", str(fig)]) == 0
    assert fig.stat().st_size > 5000


@pytest.mark.parametrize("extra,message", [
    (["--replot", "MISSING.json", "--out", "x.png"], "cannot read"),
    (["--replot", "BAD.json", "--out", "x.png"], "is not a diagnose JSON"),
    (["--replot", "BAD.json"], "--replot needs --out"),
    (["--replot", "BAD.json", "--labels", "a", "b", "--out", "x.png"], "one label per JSON"),
    ([], "give a run folder"),
])
def test_replot_bad_input_exit_2(tmp_path, monkeypatch, extra, message, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "BAD.json").write_text('[{"iteration": 1}]')
    assert diagnose.main(extra) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_replot_prints_each_stages_errors_as_the_json_holds_them(capsys):
    """The table `--replot` prints (what RESULTS quotes) against the member means recomputed
    from the committed JSON by hand."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "runs/fig6-error-amplification/figures/model_error_dclaw_mal.json"
    stages, _ = diagnose.read_numbers(path)
    text = diagnose.stage_table([("MAL s1", stages)])
    raw = json.loads(path.read_text())
    assert len(text.splitlines()) == 2 + len(raw)
    for stage in raw:
        members = {loop: np.array([[np.nan if v is None else v for v in m]
                                   for m in stage[loop]["members"]]) for loop in ("open_loop", "closed_loop")}
        mean = {loop: m.mean(0) for loop, m in members.items()}
        last = max(t for t, alive in enumerate(stage["alive"]) if alive)
        row = (f"| MAL s1 | {stage['iteration']} | {stage['samples']:,} | "
               f"{np.nanmean(mean['open_loop']):.3g} | {np.nanmean(mean['closed_loop']):.3g} | {last} | "
               f"{mean['open_loop'][last]:.3g} | {mean['closed_loop'][last]:.3g} |")
        assert row in text
    assert "| MAL s1 | 44 | 40,200 |" in text and "| 0.322 |" in text  # RESULTS' 0.32 rad at t = 40
