"""`python -m stackelberg.render`: a few headless frames of every task, the model view, GIFs,
bad input (one line, exit code 2), the OpenGL back-end error, and `--render-every` in a run."""
import copy
import csv

import imageio.v2 as imageio
import mujoco
import numpy as np
import pytest
from PIL import Image, ImageSequence

from stackelberg.cli import render as render_cli
from stackelberg import tasks
from stackelberg.analysis import render
from stackelberg.cli import run
from stackelberg.analysis import video
from stackelberg.runner.players import build_players
from stackelberg.config import Config, config_to_toml
from stackelberg.runner.run_folder import atomic_torch_save
from stackelberg.tasks.history import world_name

from run_flags import FAST

W, H = 128, 128  # small frames: rendering cost is mostly per frame, not per pixel


def make_run(folder, task_name: str, snapshot: int = 3):
    """A run folder as `stackelberg.cli.run` leaves it, with freshly initialised players: the
    config, policy_best.pt and one snapshot (policy + model)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = Config()
    config.run.task = task_name
    config.model.hidden_sizes, config.model.ensemble_size = (16, 16), 2
    (folder / "config.toml").write_text(config_to_toml(config))
    policy, model = build_players(config, tasks.make(task_name))
    atomic_torch_save({"policy": policy.state_dict(), "iteration": snapshot, "eval_return": 1.0},
                      folder / "policy_best.pt")
    (folder / "snapshots").mkdir(exist_ok=True)
    atomic_torch_save({"policy": policy.state_dict(), "model": model.state_dict(),
                       "iteration": snapshot, "samples": 1000},
                      folder / "snapshots" / f"iter_{snapshot:04d}.pt")
    return folder


def read_mp4(path) -> list[np.ndarray]:
    return [frame for frame in imageio.get_reader(path)]  # list() asks len(): inf for ffmpeg


def scene(frame: np.ndarray) -> np.ndarray:
    """The part of a frame below the overlay box."""
    return frame[48:].astype(float)


@pytest.fixture(autouse=True)
def _fresh_backend_choice():
    yield
    video.gl_backend.cache_clear()


@pytest.mark.parametrize("task_name", tasks.names())
def test_every_task_renders_headless(tmp_path, task_name, capsys):
    folder = make_run(tmp_path / "run", task_name)
    out = tmp_path / "v.mp4"
    code = render_cli.main([str(folder), "--max-steps", "6", "--frame-skip", "2", "--hold", "0",
                        "--width", str(W), "--height", str(H), "--stochastic", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    frames = read_mp4(out)
    assert len(frames) == 4  # steps 0, 2, 4, 6 (no episode of these lasts fewer than 6 steps)
    assert all(f.shape == (H, W, 3) for f in frames)
    assert all(np.abs(a.astype(int) - b).max() > 0 for a, b in zip(frames, frames[1:]))
    moved = np.abs(scene(frames[0]) - scene(frames[-1])).max(-1)
    assert (moved > 25).sum() >= 20  # the robot moved (not only the overlay's numbers)
    printed = capsys.readouterr().out
    assert "episode 1: return" in printed and "6 steps" in printed


def test_gif_hold_episodes_and_default_path(tmp_path):
    folder = make_run(tmp_path / "run", "inverted-pendulum")
    assert render_cli.main([str(folder), "--gif", "--episodes", "2", "--max-steps", "3",
                        "--frame-skip", "1", "--hold", "0", "--width", "64", "--height", "48"]) == 0
    gif = folder / "videos" / "policy_best.gif"
    with Image.open(gif) as image:
        frames = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)]
    assert len(frames) == 2 * 4 and frames[0].shape == (48, 64, 3)
    # --hold repeats each episode's last frame: 25 fps x 0.2 s = 5 more frames per episode
    out = tmp_path / "held.mp4"
    assert render_cli.main([str(folder), "--episodes", "2", "--max-steps", "3", "--frame-skip", "1",
                        "--hold", "0.2", "--width", "64", "--height", "48", "--out", str(out)]) == 0
    assert len(read_mp4(out)) == 2 * (4 + 5)


@pytest.mark.parametrize("loop", ["open", "closed"])
def test_model_view_is_side_by_side(tmp_path, loop, capsys):
    folder = make_run(tmp_path / "run", "dclaw-turn")
    assert render_cli.main([str(folder), "--iteration", "3", "--model", loop, "--member", "1",
                        "--max-steps", "3", "--frame-skip", "1", "--hold", "0",
                        "--width", str(W), "--height", str(H)]) == 0
    frames = read_mp4(folder / "videos" / f"iter_0003-model-{loop}.mp4")
    assert len(frames) == 4 and frames[0].shape == (H, 2 * W, 3)
    assert f"model ({loop} loop, member 1) predicted return" in capsys.readouterr().out


def test_poses_from_observations_match_the_world():
    """Every task's observation -> pose map puts each body where the world has it."""
    for name in tasks.names():  # every task can be filmed with --model
        rng = np.random.default_rng(0)  # each task's own actions, whatever else is registered
        task = tasks.make(name)
        env = task.make_env(0)
        env.reset(seed=0)
        sim = env.unwrapped
        pane_model = copy.deepcopy(sim.model)
        pane = mujoco.MjData(pane_model)
        pane.qpos[:] = sim.data.qpos
        dt = render._env_dt(env)
        for _ in range(5):
            obs, *_ = env.step(rng.uniform(task.act_low, task.act_high))
            render.pose_for(name)(np.asarray(obs, dtype=np.float64), pane_model, pane, dt)
        mujoco.mj_forward(pane_model, pane)
        mujoco.mj_forward(sim.model, sim.data)
        # Ant's y is integrated from the end-of-step velocity; the pen's observed position and
        # axis are from the step's last physics substep, one substep before its joint angles;
        # the humanoid's x follows its centre of mass; the pier's blocks are not observed
        tol = {"ant": 0.02, "ant-fwd-bwd": 0.02, "ant-crippled-leg": 0.02, "humanoid-direc": 0.05,
               "pen": 2e-3, "pen-noterm": 2e-3, "pen-vel": 2e-3}.get(world_name(name), 1e-5)
        bodies = slice(0, 8) if world_name(name) == "halfcheetah-pier" else slice(None)
        np.testing.assert_allclose(pane.xpos[bodies], sim.data.xpos[bodies], atol=tol, err_msg=name)
        np.testing.assert_allclose(pane.site_xpos, sim.data.site_xpos, atol=tol, err_msg=name)
        env.close()


def bad(argv, capsys) -> str:
    try:
        code = render_cli.main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own errors
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    return err


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "not a run folder (no config.toml)" in bad([empty], capsys)
    assert "no such directory" in bad([tmp_path / "missing"], capsys)
    folder = make_run(tmp_path / "run", "hopper")
    (folder / "policy_best.pt").unlink()
    assert "has no policy_best.pt" in bad([folder], capsys)
    assert "has no checkpoint.pt" in bad([folder, "--model", "open"], capsys)
    err = bad([folder, "--iteration", "7"], capsys)
    assert "no snapshot for iteration 7" in err and "iterations 3" in err
    err = bad([folder, "--iteration", "3", "--camera", "nope"], capsys)
    assert "unknown camera 'nope'" in err and "default, free, track" in err
    assert "--member must be in 0..1" in bad([folder, "--iteration", "3", "--model", "open",
                                              "--member", "5"], capsys)
    assert "drop --stochastic" in bad([folder, "--iteration", "3", "--model", "closed",
                                       "--stochastic"], capsys)
    assert "not both" in bad([folder, "--iteration", "3", "--checkpoint", "x.pt"], capsys)
    assert "must end in .mp4" in bad([folder, "--iteration", "3", "--out", "v.avi"], capsys)
    assert "even number" in bad([folder, "--width", "33"], capsys)
    assert "must be >= 0" in bad([folder, "--seed", "-1"], capsys)
    (folder / "snapshots" / "iter_0004.pt").write_bytes(b"not a checkpoint")
    assert "cannot load" in bad([folder, "--iteration", "4"], capsys)
    atomic_torch_save({"policy": {"module": {}}}, folder / "other.pt")
    assert "does not fit the run's config" in bad([folder, "--checkpoint", folder / "other.pt"],
                                                  capsys)


def test_model_view_of_a_task_without_a_pose_map(tmp_path, capsys, monkeypatch):
    folder = make_run(tmp_path / "run", "pen")
    monkeypatch.delitem(render.POSES, "pen")
    err = bad([folder, "--iteration", "3", "--model", "open"], capsys)
    assert "--model cannot film task 'pen'" in err


def test_missing_opengl_names_the_system_package(tmp_path, capsys, monkeypatch):
    folder = make_run(tmp_path / "run", "inverted-pendulum")
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(video, "_library_present", lambda backend: False)
    video.gl_backend.cache_clear()
    err = bad([folder, "--max-steps", "2"], capsys)
    assert "apt-get install libegl1 libgl1-mesa-dri" in err and "libosmesa6" in err
    assert not (folder / "videos" / "policy_best.mp4").exists()


def test_render_every_writes_videos_and_changes_no_number(tmp_path):
    plain, filmed = tmp_path / "plain", tmp_path / "filmed"
    assert run.main(FAST + ["--out", str(plain)]) == 0
    assert run.main(FAST + ["--render-every", "1", "--out", str(filmed)]) == 0
    videos = sorted(p.name for p in (filmed / "videos").glob("*.mp4"))
    assert videos == ["iter_0000.mp4", "iter_0001.mp4"]
    frames = read_mp4(filmed / "videos" / "iter_0001.mp4")
    assert len(frames) >= 2 and frames[0].shape == (480, 640, 3)
    assert "render_every = 1" in (filmed / "config.toml").read_text()
    assert not (plain / "videos").exists()
    numbers = lambda folder: [{k: v for k, v in row.items() if not k.endswith("seconds")}
                              for row in csv.DictReader(open(folder / "metrics.csv"))]
    assert numbers(filmed) == numbers(plain)


def test_render_every_without_opengl_warns_and_trains_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(render, "_hook_off_reason", None)  # restored after the test
    monkeypatch.delenv("MUJOCO_GL", raising=False)
    monkeypatch.setattr(video, "_library_present", lambda backend: False)
    video.gl_backend.cache_clear()
    out = tmp_path / "run"
    assert run.main(FAST + ["--render-every", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("warning: no video for iteration") == 1 and "apt-get install libegl1" in err
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 2
    assert not list(out.glob("videos/*.mp4"))


def test_module_entry_point_exit_code_without_traceback(tmp_path):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "stackelberg.render", str(tmp_path / "nope")],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {tmp_path / 'nope'} is not a run folder (no such directory)"
