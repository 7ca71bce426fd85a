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
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence, Union

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.errors import UserInputError
from stackelberg.runner.run_folder import BEST_POLICY, CHECKPOINT, SNAPSHOTS, RunFolder, \
    load_checkpoint, unreadable_reason
from stackelberg.analysis.video import MAX_FPS, RenderBackendError, VideoWriter, draw_text_box, \
    offscreen_renderer, side_by_side
from stackelberg.tasks import Task
from stackelberg.tasks.history import world_name

if TYPE_CHECKING:
    from stackelberg.analysis.diagnostics import Actor, Stepper
    from stackelberg.core.game import Game
    from stackelberg.worlds.perturbations import Perturbation

LOOPS = ("open", "closed")


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
}


def register_pose(task_name: str, pose: PoseFn) -> None:
    """Let `--model` film a task: how its observation maps to a MuJoCo pose."""
    POSES[task_name] = pose


def pose_for(task_name: str) -> PoseFn:
    """The task's observation-to-pose map; a one-line error names a task without one. A history
    task ("halfcheetah-fwd-bwd+h10") is posed by its world's map: the world's own observation
    leads its history observation."""
    task_name = task_name if task_name in POSES else world_name(task_name)
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
        data = _simulation(self.env).data
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


def _simulation(env: gym.Env) -> Any:
    """A MuJoCo env's unwrapped self, whose `model` and `data` gymnasium's `Env` does not declare."""
    return env.unwrapped


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


def _predict(task: Task, model: "Stepper", policy: "Actor", obs: torch.Tensor, act: torch.Tensor,
             loop: str, member: int, action_clamp: Optional[float]) -> Prediction:
    """Roll `model` from the episode's start state: the world's actions (open loop) or the
    policy's mean action on the model's own states (closed loop), as `diagnostics` does; the
    predicted return and end are the model-env's."""
    from stackelberg.analysis.diagnostics import WorldPaths, closed_loop_paths, open_loop_paths

    steps = act.shape[0]
    if loop == "open":
        world = WorldPaths(states=obs.unsqueeze(0), actions=act.unsqueeze(0),
                           valid=torch.ones(1, steps + 1, dtype=torch.bool))
        paths = open_loop_paths(model, task, world)
    else:
        paths = closed_loop_paths(model, task, policy, obs[:1], steps, action_clamp)
    one = paths.keep(torch.tensor([member]))  # one start state: path e is member e's
    states = one.states()[0].float()
    ended = int(one.lengths[0]) - 1 if bool(one.terminated[0]) else None
    last = steps if ended is None else ended + 1
    reward = torch.nan_to_num(one.reward[0].float())
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

    view = None if loop is None else _ModelView.checked(task, model, loop, member, action_clamp)
    base_env = task.make_env(seed)
    try:
        for p in perturbations:
            apply_perturbation(task, base_env, p)
        recorder = _RecordPoses(base_env)
        env: gym.Env = recorder if max_steps is None else \
            gym.wrappers.TimeLimit(recorder, max_episode_steps=max_steps)
        if not hasattr(base_env.unwrapped, "data"):
            raise UserInputError(f"task {task.name!r} is not a MuJoCo env (no .data to film)")
        sim_model = _simulation(base_env).model
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
                    pane = None
                    if view is not None:
                        prediction = _predict(task, view.model, policy, obs, traj.act, view.loop,
                                              view.member, view.action_clamp)
                        result.predicted_return = float(prediction.returns[-1])
                        result.predicted_success = prediction.success
                        pane = _ModelPane(view, prediction, sim_model, recorder.qpos[0], dt)
                    _film_episode(writer, renderer, cam, sim_model, recorder, traj, result, pane,
                                  skip, hold_frames, title=title, episode=episode,
                                  episodes=episodes)
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


@dataclass
class _ModelView:
    """`--model`: the model, the loop and the member filmed beside the world, and the task's
    map from a predicted observation to a MuJoCo pose."""

    model: "Stepper"
    loop: str
    member: int
    pose: PoseFn
    action_clamp: Optional[float]

    @classmethod
    def checked(cls, task: Task, model: Optional["Stepper"], loop: str, member: int,
                action_clamp: Optional[float]) -> "_ModelView":
        if model is None:
            raise UserInputError("a model view needs a model")
        pose = pose_for(task.name)
        if model.ensemble_size < 1:
            raise UserInputError("--model needs a model player, and this run played without one "
                                 "(a model-free policy player)")
        if not 0 <= member < model.ensemble_size:
            raise UserInputError(f"--member must be in 0..{model.ensemble_size - 1} (the model "
                                 f"has {model.ensemble_size} members), got {member}")
        return cls(model, loop, member, pose, action_clamp)


class _ModelPane:
    """The model's side of an episode's frames: the predicted observations posed, step by step,
    in a copy of the MuJoCo model (its scene markers move with the prediction), until a
    prediction is not finite."""

    def __init__(self, view: _ModelView, prediction: Prediction, sim_model: Any,
                 start_qpos: np.ndarray, dt: float):
        import mujoco

        self.view, self.prediction, self.dt = view, prediction, dt
        self.model = copy.deepcopy(sim_model)
        self.data = mujoco.MjData(self.model)
        self.data.qpos[:] = start_qpos
        self.diverged_at: Optional[int] = None

    def advance(self, t: int) -> None:
        """Pose step t's prediction (every step, in order: positions may be integrated)."""
        if self.diverged_at is not None:
            return
        predicted = self.prediction.states[t]
        if self.prediction.finite[t] and np.abs(predicted).max() < 1e6:
            self.view.pose(predicted, self.model, self.data, self.dt)
        else:
            self.diverged_at = t

    def frame(self, renderer: Any, cam: Any, t: int, last: bool) -> np.ndarray:
        import mujoco

        mujoco.mj_forward(self.model, self.data)
        renderer.update_scene(self.data, camera=cam)
        prediction = self.prediction
        lines = [f"model: member {self.view.member}, {self.view.loop} loop",
                 f"predicted return {prediction.returns[t]:.1f}"]
        if prediction.ended is not None and t > prediction.ended:
            lines.append(f"model says: terminated at t {prediction.ended + 1}")
        if self.diverged_at is not None:
            lines.append(f"prediction not finite from t {self.diverged_at}")
        if last and prediction.success is not None:
            lines[1] += f"   success {_flag(prediction.success)}"
        return draw_text_box(renderer.render(), lines)


def _film_episode(writer: VideoWriter, renderer: Any, cam: Any, sim_model: Any,
                  recorder: _RecordPoses, traj: Any, result: EpisodeResult,
                  pane: Optional[_ModelPane], skip: int, hold_frames: int, *, title: str,
                  episode: int, episodes: int) -> None:
    """Re-pose the world from the recorded states (and the model view from the predicted
    observations) and write the frames with their overlays."""
    import mujoco

    world = mujoco.MjData(sim_model)
    rewards = np.concatenate([[0.0], np.cumsum(traj.reward.numpy().astype(np.float64))])
    steps = result.steps
    shots = set(frame_steps(steps, skip))
    frame = None
    for t in range(steps + 1):
        if pane is not None and t > 0:
            pane.advance(t)
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
        if pane is not None:
            lines[0] = ("world: " + lines[0]).strip()
        frame = draw_text_box(renderer.render(), [line for line in lines if line])
        if pane is not None:
            frame = side_by_side(frame, pane.frame(renderer, cam, t, last))
        writer.append(frame)
    if frame is not None:  # the last step is always filmed: hold it
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
    the run's checkpoint when a model is needed (the best policy's file keeps no model), else
    the best policy's file."""
    if checkpoint is not None and iteration is not None:
        raise UserInputError("pass --checkpoint or --iteration, not both")
    if checkpoint is not None:
        path = Path(checkpoint)
        if not path.is_file():
            raise UserInputError(f"--checkpoint {checkpoint}: no such file")
        return path, path.stem
    run = RunFolder(folder)
    if iteration is not None:
        path = run.snapshot_file(iteration)
        if not path.is_file():
            found = sorted(run.snapshots())
            have = (f"snapshots exist for iterations {', '.join(map(str, found))}" if found else
                    "the run has no snapshots (run.snapshot_every = 0, or it stopped before one)")
            raise UserInputError(f"no snapshot for iteration {iteration} in {folder}; {have}")
        return path, path.stem
    path = run.checkpoint_file if need_model else run.best_policy_file
    if not path.is_file():
        if not need_model and run.checkpoint_file.is_file():  # iterations, no evaluation
            raise UserInputError(
                f"{folder} has no {path.name}: a run keeps one once its policy was evaluated, "
                f"and this one was not (run.eval_episodes = 0); film its last policy with "
                f"--checkpoint {shlex.quote(str(run.checkpoint_file))}, or a snapshot with "
                f"--iteration N")
        raise UserInputError(f"{folder} has no {path.name} (a run writes it after its first "
                             f"iteration); pass --checkpoint PATH or --iteration N")
    return path, path.stem


def load_policy_source(path: Path, stem: str, need_model: bool) -> PolicySource:
    """Read a run file without executing code; a damaged or foreign file is a one-line error,
    not a traceback, and the overlay's label says which iteration it is."""
    try:
        state = load_checkpoint(path)
    except Exception as err:  # truncated, corrupted or foreign: one line, no traceback
        raise UserInputError(f"cannot load {path}: {unreadable_reason(err)}") from None
    if not isinstance(state, dict) or "policy" not in state:
        raise UserInputError(f"{path} holds no policy (expected a run's {BEST_POLICY}, "
                             f"{CHECKPOINT} or {SNAPSHOTS}/iter_*.pt)")
    if need_model and "model" not in state:
        raise UserInputError(f"{path} holds no model ({BEST_POLICY} keeps only the policy); "
                             f"use --iteration N or --checkpoint RUN/{CHECKPOINT}")
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
    path = RunFolder(out).video_file(f"iter_{iteration:04d}")
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
