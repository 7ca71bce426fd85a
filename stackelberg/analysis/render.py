"""`python -m stackelberg.render RUN`: watch a run's policy, as an MP4 or GIF, headless.

Loads the run's config and task and a policy (`policy_best.pt`, a snapshot of one iteration, or
any checkpoint file), plays evaluation episodes in the real world (the policy's mean action
unless `--stochastic`) and films them with `mujoco.Renderer` on EGL or OSMesa, with the
episode's return and success written on the frames.

`--model open|closed` films, beside the world, what the model player predicted ([P] Figure 6 as
a video): open loop replays the world's actions in the model from the same start state, closed
loop lets the policy act on the model's own states. A predicted observation becomes a MuJoCo
pose through the task's `PoseFn` (every built-in task has one; `register_pose` adds more).

`video_during_training` is the `run.render_every` hook of `stackelberg.cli.run`: one episode of the
current policy every K iterations into RUN/videos/.
"""
from __future__ import annotations

import copy
import math
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.errors import UserInputError
from stackelberg.analysis.video import MAX_FPS, RenderBackendError, VideoWriter, draw_text_box, \
    offscreen_renderer, side_by_side
from stackelberg.tasks import Task

if TYPE_CHECKING:
    from stackelberg.analysis.diagnostics import Actor, Stepper
    from stackelberg.core.game import Game
    from stackelberg.worlds.perturbations import Perturbation

LOOPS = ("open", "closed")
SNAPSHOT = re.compile(r"iter_(\d+)\.pt$")


# --- cameras ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FreeCamera:
    """A free camera: the point it looks at, its distance (m) and angles (degrees)."""

    lookat: tuple[float, float, float]
    distance: float
    azimuth: float
    elevation: float


# The view each task is filmed from by default: a model camera by name, or a free camera.
# Hopper, HalfCheetah and Ant use their own torso-tracking camera; the ROBEL views show the valve with its
# target line (DClaw) and the kitty with the target 1 m away (DKitty).
DEFAULT_CAMERAS: dict[str, Union[str, FreeCamera]] = {
    "inverted-pendulum": FreeCamera((0.0, 0.0, 0.25), 2.2, 90.0, -10.0),
    "hopper": "track",
    "halfcheetah": "track",
    "ant": "track",
    "reacher-7dof": FreeCamera((0.2, -0.4, -0.1), 2.2, 120.0, -30.0),
    "pen": "fixed",
    "pen-noterm": "fixed",
    "pen-vel": "fixed",
    "dclaw-turn": FreeCamera((0.0, 0.0, 0.04), 0.55, 30.0, -45.0),
    "dclaw-turn-fixed": FreeCamera((0.0, 0.0, 0.04), 0.55, 30.0, -45.0),
    "dclaw-turn-vel": FreeCamera((0.0, 0.0, 0.04), 0.55, 30.0, -45.0),
    "dkitty-orient": FreeCamera((0.0, -0.3, 0.1), 2.1, 90.0, -65.0),
    "halfcheetah-fwd-bwd": "track",
    "halfcheetah-pier": "track",
    "ant-fwd-bwd": "track",
    "ant-crippled-leg": "track",
    "walker2d-randomparams": "track",
    "humanoid-direc": "track",
}


def register_camera(task_name: str, camera: Union[str, FreeCamera]) -> None:
    """The default view of a task (a model camera's name or a `FreeCamera`)."""
    DEFAULT_CAMERAS[task_name] = camera


def camera_choices(model: Any) -> list[str]:
    """What `--camera` accepts for a MuJoCo model: its named cameras and two views."""
    import mujoco

    named = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
    return ["default", "free"] + [n for n in named if n]


def make_camera(model: Any, task_name: str, choice: str = "default") -> Any:
    """The camera argument of `mujoco.Renderer.update_scene`: a camera id or an `MjvCamera`.

    "default" is the task's view (`DEFAULT_CAMERAS`), "free" MuJoCo's default free camera,
    anything else one of the model's named cameras."""
    import mujoco

    spec: Union[str, FreeCamera] = DEFAULT_CAMERAS.get(task_name, "free") if choice == "default" \
        else choice
    if isinstance(spec, FreeCamera):
        camera = mujoco.MjvCamera()
        camera.type = mujoco.mjtCamera.mjCAMERA_FREE
        camera.lookat[:] = spec.lookat
        camera.distance, camera.azimuth, camera.elevation = spec.distance, spec.azimuth, spec.elevation
        return camera
    if spec == "free":
        return -1
    camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, spec)
    if camera_id < 0:
        raise UserInputError(f"unknown camera {spec!r} for task {task_name!r}; choose from "
                             f"{', '.join(camera_choices(model))}")
    return camera_id


# --- predicted observation -> MuJoCo pose -----------------------------------------------------

# (obs, model, data, dt): write the pose an observation describes into `data.qpos` (and scene
# markers into `model`, a copy owned by the model view). Coordinates the observation lacks keep
# their previous values; positions the observation gives only as a velocity (Hopper's,
# HalfCheetah's and Ant's x) are integrated over `dt`, so the call must be made for every step in order.
PoseFn = Callable[[np.ndarray, Any, Any, float], None]


def _qpos_index(model: Any, joints: Sequence[str]) -> np.ndarray:
    return np.array([model.joint(name).qposadr[0] for name in joints])


def _pose_pendulum(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    data.qpos[0:2] = obs[0:2]  # obs = qpos (cart, hinge), qvel


def _pose_hopper(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    data.qpos[1:6] = obs[0:5]  # obs = qpos[1:], clipped qvel, x-velocity
    data.qpos[0] += obs[11] * dt  # x: the env's x-velocity is (x' - x) / dt


def _pose_halfcheetah(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    data.qpos[1:9] = obs[0:8]  # obs = qpos[1:], qvel, x-velocity
    data.qpos[0] += obs[17] * dt  # x: the env's x-velocity is (x' - x) / dt


def _pose_ant(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    data.qpos[2:15] = obs[0:13]  # obs = qpos[2:] (z, quaternion, joints), qvel, x-velocity
    quat = data.qpos[3:7]
    norm = np.linalg.norm(quat)
    data.qpos[3:7] = quat / norm if norm > 1e-8 else (1.0, 0.0, 0.0, 0.0)
    data.qpos[0] += obs[27] * dt
    data.qpos[1] += obs[14] * dt  # y from the torso's y-velocity (qvel[1])


def _pose_planar(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    """HalfCheetah and Walker2d (x-velocity appended): obs = qpos[1:9], qvel, x-velocity. On the
    pier the blocks are not observed: they keep their previous pose."""
    data.qpos[1:9] = obs[0:8]
    data.qpos[0] += obs[17] * dt


def _pose_humanoid(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    """obs = qpos[2:], qvel, the centre of mass's x-velocity (the root's x follows it)."""
    data.qpos[2:24] = obs[0:22]
    quat = data.qpos[3:7]
    norm = np.linalg.norm(quat)
    data.qpos[3:7] = quat / norm if norm > 1e-8 else (1.0, 0.0, 0.0, 0.0)
    data.qpos[0] += obs[45] * dt
    data.qpos[1] += obs[23] * dt  # y from the root's y-velocity (qvel[1])


def _pose_reacher(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    import mujoco

    data.qpos[0:7] = obs[0:7]  # obs = qpos, qvel * dt, fingertip, goal
    model.site_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")] = obs[17:20]


def _pose_pen(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    """Hand joints are in the obs; the pen's slides and tilt follow from its position and axis
    (obs[24:27], obs[33:36]) in the frame of its body: axis = Rx(a) Ry(b) e_z there."""
    data.qpos[0:24] = obs[0:24]
    body = model.body("Object").id
    rot = np.empty(9)
    import mujoco

    mujoco.mju_quat2Mat(rot, model.body_quat[body])
    to_body = rot.reshape(3, 3).T
    slides = _qpos_index(model, ("OBJTx", "OBJTy", "OBJTz"))
    data.qpos[slides] = to_body @ (obs[24:27] - model.body_pos[body])
    axis = to_body @ obs[33:36]
    norm = np.linalg.norm(axis)
    if norm > 1e-8:
        axis = axis / norm
        hinges = _qpos_index(model, ("OBJRx", "OBJRy"))
        data.qpos[hinges] = (np.arctan2(-axis[1], axis[2]), np.arcsin(np.clip(axis[0], -1.0, 1.0)))


def _pose_dclaw(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    """Claw joints and the valve angle (from its cos, sin); the target line is put where the
    predicted target error says the target is."""
    from stackelberg.tasks.robel.dclaw import CLAW_JOINTS, VALVE_JOINT

    data.qpos[_qpos_index(model, CLAW_JOINTS)] = obs[0:9]
    valve = math.atan2(obs[10], obs[9])
    data.qpos[_qpos_index(model, (VALVE_JOINT,))] = valve
    yaw = valve + obs[20]
    model.body_quat[model.body("target").id] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))


def _pose_dkitty(obs: np.ndarray, model: Any, data: Any, dt: float) -> None:
    from stackelberg.tasks.robel.dkitty import LEG_JOINTS

    data.qpos[0:6] = obs[0:6]  # root slides and x-y-z Euler angles are its first six joints
    data.qpos[_qpos_index(model, LEG_JOINTS)] = obs[6:18]


POSES: dict[str, PoseFn] = {
    "inverted-pendulum": _pose_pendulum,
    "hopper": _pose_hopper,
    "halfcheetah": _pose_halfcheetah,
    "ant": _pose_ant,
    "reacher-7dof": _pose_reacher,
    "pen": _pose_pen,
    "pen-noterm": _pose_pen,
    "pen-vel": _pose_pen,
    "dclaw-turn": _pose_dclaw,
    "dclaw-turn-fixed": _pose_dclaw,
    "dclaw-turn-vel": _pose_dclaw,
    "dkitty-orient": _pose_dkitty,
    "halfcheetah-fwd-bwd": _pose_planar,
    "halfcheetah-pier": _pose_planar,
    "ant-fwd-bwd": _pose_ant,
    "ant-crippled-leg": _pose_ant,
    "walker2d-randomparams": _pose_planar,
    "humanoid-direc": _pose_humanoid,
    # the same worlds with their history in the observation: posed by its leading (world) part
    "halfcheetah-fwd-bwd+h10": _pose_planar,
    "halfcheetah-pier+h10": _pose_planar,
    "ant-fwd-bwd+h10": _pose_ant,
    "ant-crippled-leg+h10": _pose_ant,
    "walker2d-randomparams+h10": _pose_planar,
    "humanoid-direc+h10": _pose_humanoid,
}


def register_pose(task_name: str, pose: PoseFn) -> None:
    """Let `--model` film a task: how its observation maps to a MuJoCo pose."""
    POSES[task_name] = pose


def pose_for(task_name: str) -> PoseFn:
    """The task's observation-to-pose map; a one-line error names a task without one."""
    if task_name not in POSES:
        raise UserInputError(f"--model cannot film task {task_name!r}: it has no observation-to-pose "
                             f"map (stackelberg.analysis.render.register_pose); tasks with one: "
                             f"{', '.join(sorted(POSES))}")
    return POSES[task_name]


# --- episodes ---------------------------------------------------------------------------------

class _RecordPoses(gym.Wrapper):
    """Keeps the simulator's qpos and qvel after the reset and after every step, so that an
    episode played by `world.run_episode` can be filmed afterwards."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.qpos: list[np.ndarray] = []
        self.qvel: list[np.ndarray] = []

    def _record(self) -> None:
        data = self.env.unwrapped.data
        self.qpos.append(data.qpos.copy())
        self.qvel.append(data.qvel.copy())

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        self.qpos, self.qvel = [], []
        self._record()
        return out

    def step(self, action: Any) -> Any:
        out = self.env.step(action)
        self._record()
        return out


@dataclass
class Prediction:
    """The model's version of an episode: one member's states and the return it predicts."""

    states: np.ndarray  # (T + 1, obs_dim)
    returns: np.ndarray  # (T + 1,) predicted return up to each step
    ended: Optional[int]  # the step after which the model's termination function fired
    success: Optional[bool]
    finite: np.ndarray  # (T + 1,) bool


@dataclass
class EpisodeResult:
    """What the overlay says at an episode's end (and `render` prints)."""

    steps: int
    ret: float
    success: Optional[bool]
    terminated: bool
    predicted_return: Optional[float] = None
    predicted_success: Optional[bool] = None


@dataclass
class VideoSummary:
    """What `render_video` wrote."""

    path: Path
    frames: int
    size: tuple[int, int]  # (width, height)
    fps: float
    episodes: list[EpisodeResult] = field(default_factory=list)


def _env_dt(env: gym.Env) -> float:
    dt = getattr(env.unwrapped, "dt", None)
    return float(dt) if dt else 1.0 / float(env.metadata.get("render_fps", 30))


def frame_steps(steps: int, frame_skip: int) -> list[int]:
    """The steps t = 0..steps that become frames: every `frame_skip`-th and always the last."""
    chosen = list(range(0, steps + 1, frame_skip))
    if chosen[-1] != steps:
        chosen.append(steps)
    return chosen


def _flag(value: Optional[bool]) -> str:
    return "-" if value is None else ("yes" if value else "no")


@torch.no_grad()
def _predict(task: Task, model: "Stepper", policy: "Actor", obs: torch.Tensor, act: torch.Tensor,
             loop: str, member: int, action_clamp: Optional[float]) -> Prediction:
    """Roll `model` from the episode's start state: the world's actions (open loop) or the
    policy's mean action on the model's own states (closed loop), as `diagnostics` does."""
    from stackelberg.analysis.diagnostics import WorldPaths, closed_loop_states, open_loop_states

    steps = act.shape[0]
    if loop == "open":
        paths = WorldPaths(states=obs.unsqueeze(0), actions=act.unsqueeze(0),
                           valid=torch.ones(1, steps + 1, dtype=torch.bool))
        states = open_loop_states(model, paths)[member, 0]
        actions = act
    else:
        states = closed_loop_states(model, policy, obs[:1], steps, action_clamp)[member, 0]
        actions = policy.act(states[:-1], deterministic=True).cpu().float()
        if action_clamp is not None:
            actions = actions.clamp(-action_clamp, action_clamp)
    states = states.float()
    reward = task.reward_fn(states[:-1], actions, states[1:]).float()
    done = task.termination_fn(states[:-1], actions, states[1:])
    ended = int(done.nonzero()[0, 0]) if bool(done.any()) else None
    last = steps if ended is None else ended + 1
    reward = torch.nan_to_num(reward)
    reward[last:] = 0.0
    returns = torch.cat([torch.zeros(1), reward.cumsum(0)]).numpy()
    success = None if task.success_fn is None else bool(task.success_fn(states[:last + 1]))
    return Prediction(states=states.numpy().astype(np.float64), returns=returns, ended=ended,
                      success=success, finite=torch.isfinite(states).all(-1).numpy())


def render_video(task: Task, policy: "Actor", path: Union[str, Path], *, episodes: int = 1,
                 deterministic: bool = True, seed: int = 0, width: int = 640, height: int = 480,
                 camera: str = "default", gif: bool = False, shadows: bool = False,
                 frame_skip: Optional[int] = None, hold: float = 1.0,
                 max_steps: Optional[int] = None, model: Optional["Stepper"] = None,
                 loop: Optional[str] = None, member: int = 0,
                 action_clamp: Optional[float] = None,
                 perturbations: Sequence["Perturbation"] = (), title: str = "",
                 on_episode: Optional[Callable[[int, EpisodeResult], None]] = None) -> VideoSummary:
    """Play `episodes` episodes of `policy` in the task's world and film them into `path`.

    Episode i starts from `env.reset(seed=seed + i)`. Frames show every `frame_skip`-th step
    (default: as few as keep real time at <= 50 frames per second), and the last frame of each
    episode is held for `hold` seconds. With `model` and `loop`, each frame is the world beside
    ensemble member `member`'s prediction (`action_clamp` as in the policy's own rollouts).
    `perturbations` (already fired in a run) change the world before the first episode."""
    from stackelberg.worlds.perturbations import apply_perturbation
    from stackelberg.worlds.collect import judge_episodes, run_episode

    if loop is not None and model is None:
        raise UserInputError("a model view needs a model")
    pose = pose_for(task.name) if loop is not None else None
    if loop is not None and model.ensemble_size < 1:
        raise UserInputError("--model needs a model player, and this run played without one "
                             "(a model-free policy player)")
    if loop is not None and not 0 <= member < model.ensemble_size:
        raise UserInputError(f"--member must be in 0..{model.ensemble_size - 1} (the model has "
                             f"{model.ensemble_size} members), got {member}")
    base_env = task.make_env(seed)
    try:
        for p in perturbations:
            apply_perturbation(task, base_env, p)
        env = _RecordPoses(base_env)
        if max_steps is not None:
            env = gym.wrappers.TimeLimit(env, max_episode_steps=max_steps)
        if not hasattr(base_env.unwrapped, "data"):
            raise UserInputError(f"task {task.name!r} is not a MuJoCo env (no .data to film)")
        recorder = env if isinstance(env, _RecordPoses) else env.env
        sim_model = base_env.unwrapped.model
        cam = make_camera(sim_model, task.name, camera)  # fail on a bad camera before playing
        dt = _env_dt(base_env)
        skip = frame_skip or max(1, math.ceil(1.0 / (dt * MAX_FPS)))
        fps = 1.0 / (dt * skip)
        hold_frames = max(0, round(hold * fps))
        renderer = offscreen_renderer(sim_model, width, height, shadows)
        results: list[EpisodeResult] = []
        try:
            with VideoWriter(path, fps, gif) as writer:
                for episode in range(episodes):
                    act = lambda obs: policy.act(obs, deterministic=deterministic)
                    traj = run_episode(env, act, task, seed=seed + episode)
                    success, _ = judge_episodes(task, [traj])
                    steps = len(traj)
                    result = EpisodeResult(steps=steps, ret=float(traj.reward.sum()),
                                           success=None if np.isnan(success[0]) else bool(success[0]),
                                           terminated=traj.terminated)
                    obs = torch.cat([traj.obs, traj.next_obs[-1:]])
                    prediction = None
                    if loop is not None:
                        prediction = _predict(task, model, policy, obs, traj.act, loop, member,
                                              action_clamp)
                        result.predicted_return = float(prediction.returns[-1])
                        result.predicted_success = prediction.success
                    _film_episode(writer, renderer, cam, base_env.unwrapped.model, recorder, traj,
                                  result, prediction, pose, dt, skip, hold_frames,
                                  title=title, episode=episode, episodes=episodes, loop=loop,
                                  member=member)
                    results.append(result)
                    if on_episode is not None:
                        on_episode(episode, result)
                out = writer.close()
                size = writer.size or (width, height)
                frames = writer.frames
        finally:
            renderer.close()
    finally:
        base_env.close()
    return VideoSummary(path=out, frames=frames, size=size, fps=fps, episodes=results)


def _film_episode(writer: VideoWriter, renderer: Any, cam: Any, sim_model: Any,
                  recorder: _RecordPoses, traj: Any, result: EpisodeResult,
                  prediction: Optional[Prediction], pose: Optional[PoseFn], dt: float, skip: int,
                  hold_frames: int, *, title: str, episode: int, episodes: int,
                  loop: Optional[str], member: int) -> None:
    """Re-pose the world from the recorded states (and the model view from the predicted
    observations) and write the frames with their overlays."""
    import mujoco

    world = mujoco.MjData(sim_model)
    pane_model = copy.deepcopy(sim_model) if prediction is not None else None
    pane = mujoco.MjData(pane_model) if pane_model is not None else None
    if pane is not None:
        pane.qpos[:] = recorder.qpos[0]
    rewards = np.concatenate([[0.0], np.cumsum(traj.reward.numpy().astype(np.float64))])
    steps = result.steps
    shots = set(frame_steps(steps, skip))
    frame = None
    diverged_at: Optional[int] = None
    for t in range(steps + 1):
        if pane is not None and t > 0 and diverged_at is None:
            predicted = prediction.states[t]
            if prediction.finite[t] and np.abs(predicted).max() < 1e6:
                pose(predicted, pane_model, pane, dt)
            else:
                diverged_at = t
        if t not in shots:
            continue
        world.qpos[:], world.qvel[:] = recorder.qpos[t], recorder.qvel[t]
        mujoco.mj_forward(sim_model, world)
        renderer.update_scene(world, camera=cam)
        last = t == steps
        lines = [f"{title}".strip(), f"episode {episode + 1}/{episodes}   t {t}/{steps}"]
        if last:
            end = " (terminated)" if result.terminated else ""
            judged = "" if result.success is None else f"   success {_flag(result.success)}"
            lines.append(f"return {result.ret:.1f}{judged}{end}")
        else:
            lines.append(f"return {rewards[t]:.1f}")
        if prediction is not None:
            lines[0] = ("world: " + lines[0]).strip()
        frame = draw_text_box(renderer.render(), [line for line in lines if line])
        if prediction is not None:
            mujoco.mj_forward(pane_model, pane)
            renderer.update_scene(pane, camera=cam)
            model_lines = [f"model: member {member}, {loop} loop",
                           f"predicted return {prediction.returns[t]:.1f}"]
            if prediction.ended is not None and t > prediction.ended:
                model_lines.append(f"model says: terminated at t {prediction.ended + 1}")
            if diverged_at is not None:
                model_lines.append(f"prediction not finite from t {diverged_at}")
            if last and prediction.success is not None:
                model_lines[1] += f"   success {_flag(prediction.success)}"
            frame = side_by_side(frame, draw_text_box(renderer.render(), model_lines))
        writer.append(frame)
    for _ in range(hold_frames):
        writer.append(frame)


# --- the run folder ---------------------------------------------------------------------------

@dataclass
class PolicySource:
    """A loaded run file: what to load into the players, and what to call it."""

    path: Path
    label: str  # for the overlay
    stem: str  # for the default file name
    state: dict


def find_policy_file(folder: Path, checkpoint: Optional[str], iteration: Optional[int],
                     need_model: bool) -> tuple[Path, str]:
    """The file to load and a short name for it: --checkpoint, the snapshot of --iteration,
    checkpoint.pt when a model is needed (policy_best.pt keeps no model), else policy_best.pt."""
    if checkpoint is not None and iteration is not None:
        raise UserInputError("pass --checkpoint or --iteration, not both")
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise UserInputError(f"--checkpoint {checkpoint}: no such file")
        return path, path.stem
    if iteration is not None:
        path = folder / "snapshots" / f"iter_{iteration:04d}.pt"
        if not path.is_file():
            found = sorted(int(m.group(1)) for p in (folder / "snapshots").glob("iter_*.pt")
                           if (m := SNAPSHOT.search(p.name)))
            have = (f"snapshots exist for iterations {', '.join(map(str, found))}" if found else
                    "the run has no snapshots (run.snapshot_every = 0, or it stopped before one)")
            raise UserInputError(f"no snapshot for iteration {iteration} in {folder}; {have}")
        return path, path.stem
    name = "checkpoint.pt" if need_model else "policy_best.pt"
    path = folder / name
    if not path.is_file():
        checkpoint_file = folder / "checkpoint.pt"
        if name == "policy_best.pt" and checkpoint_file.is_file():  # iterations, no evaluation
            raise UserInputError(
                f"{folder} has no policy_best.pt: a run keeps one once its policy was evaluated, "
                f"and this one was not (run.eval_episodes = 0); film its last policy with "
                f"--checkpoint {shlex.quote(str(checkpoint_file))}, or a snapshot with "
                f"--iteration N")
        raise UserInputError(f"{folder} has no {name} (a run writes it after its first "
                             f"iteration); pass --checkpoint PATH or --iteration N")
    return path, path.stem


def load_policy_source(path: Path, stem: str, need_model: bool) -> PolicySource:
    """Read a run file without executing code; a damaged or foreign file is a one-line error,
    not a traceback, and the overlay's label says which iteration it is."""
    from stackelberg.runner.run_folder import load_checkpoint, unreadable_reason

    try:
        state = load_checkpoint(path)
    except Exception as err:  # truncated, corrupted or foreign: one line, no traceback
        raise UserInputError(f"cannot load {path}: {unreadable_reason(err)}") from None
    if not isinstance(state, dict) or "policy" not in state:
        raise UserInputError(f"{path} holds no policy (expected a run's policy_best.pt, "
                             f"checkpoint.pt or snapshots/iter_*.pt)")
    if need_model and "model" not in state:
        raise UserInputError(f"{path} holds no model (policy_best.pt keeps only the policy); "
                             f"use --iteration N or --checkpoint RUN/checkpoint.pt")
    parts = []
    if "iteration" in state:
        # checkpoint.pt counts the iterations done; snapshots and policy_best name their own
        done = int(state["iteration"]) - (1 if "replay" in state else 0)
        parts.append(f"iter {done}")
    if "samples" in state:
        parts.append(f"{int(state['samples'])} samples")
    label = f"{path.name} ({', '.join(parts)})" if parts else path.name
    return PolicySource(path=path, label=label, stem=stem, state=state)


# --- the training hook ------------------------------------------------------------------------

_hook_off_reason: Optional[str] = None


def video_during_training(game: "Game", out: Union[str, Path], iteration: int,
                          seed: int = 0) -> Optional[Path]:
    """`run.render_every`: one episode of the game's current policy (mean action) into
    `out/videos/iter_XXXX.mp4`, from the same start state every time so that videos of
    different iterations compare. The world carries the perturbations fired so far.

    Never stops training: a failure is a warning (after a missing OpenGL back-end, no more
    videos are tried). It touches neither the game's envs nor any random number stream, so a
    run with videos computes the same numbers as one without."""
    global _hook_off_reason
    if _hook_off_reason is not None:
        return None
    path = Path(out) / "videos" / f"iter_{iteration:04d}.mp4"
    try:
        render_video(game.task, game.policy, path, seed=seed + 20_000,
                     perturbations=list(game.perturbations.fired),
                     title=f"{game.task.name}  iteration {iteration}  {game.samples} samples")
    except KeyboardInterrupt:
        raise
    except Exception as err:  # a video is never worth a training run
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:300]
        print(f"\nwarning: no video for iteration {iteration}: {reason}", file=sys.stderr)
        if isinstance(err, RenderBackendError):
            _hook_off_reason = reason
            print("warning: run.render_every: no more videos in this run", file=sys.stderr)
        return None
    return path
