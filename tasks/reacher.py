"""7-DOF reacher (mjrl's `mjrl_reacher_7dof-v0`), rebuilt for MuJoCo 4 from gymnasium's pusher.xml.

mjrl's own `sawyer.xml` is not shipped with any installed package, but it is the same PR2-style arm as
gymnasium's Pusher. Editing pusher.xml with `mujoco.MjSpec` at load time (tasks spec §4) gives the
mjrl model; building it in code also lets the forearm-length perturbation recompile masses and
inertias properly, instead of moving a body and leaving the link's inertia stale.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

import gymnasium as gym
import mujoco
import numpy as np
import torch

from tasks.base import Task

NOMINAL_FOREARM = 0.321  # r_wrist_flex_link.pos.x in pusher.xml / sawyer.xml
FA_GAP = 0.03  # geom `fa` ends this far before the wrist (0.291 = 0.321 - 0.03)
GOAL_LOW = (-0.3, -0.2, -0.25)
GOAL_HIGH = (0.3, 0.2, 0.25)
FRAME_SKIP = 4
HORIZON = 50
SUCCESS_RADIUS = 0.05  # metres; our own definition (mjrl has no success metric)
OBS_DIM, ACT_DIM = 20, 7
FINGER, TARGET = slice(14, 17), slice(17, 20)

_GEARS = {"r_shoulder_pan_joint": 20.0}  # the rest: 10
_DAMPING = {"r_shoulder_pan_joint": 2.0, "r_shoulder_lift_joint": 2.0}  # the rest: 0.8


def _pusher_xml() -> str:
    return os.path.join(os.path.dirname(gym.__file__), "envs", "mujoco", "assets", "pusher.xml")


def build_reacher_model(forearm_length: float = NOMINAL_FOREARM) -> mujoco.MjModel:
    """Compile the mjrl 7-DOF reacher from pusher.xml with the edits listed in tasks spec §4.

    `forearm_length` moves the wrist (`r_wrist_flex_link.pos.x = L`) and stretches the forearm
    capsule `fa` to end at L - 0.03, so the compiler recomputes the link's mass and inertia.
    """
    if not forearm_length > FA_GAP:
        raise ValueError(f"forearm_length must exceed {FA_GAP}, got {forearm_length}")
    spec = mujoco.MjSpec.from_file(_pusher_xml())
    for name in ("object", "goal", "tips_arm"):
        spec.delete(spec.body(name))
    wrist = spec.body("r_wrist_roll_link")
    for geom in list(wrist.geoms):  # the three gripper capsules
        spec.delete(geom)
    wrist.add_geom(name="finger_ball", type=mujoco.mjtGeom.mjGEOM_SPHERE, size=[0.08, 0, 0],
                   pos=[0.03, 0, 0], contype=1, conaffinity=1, condim=1, margin=0.002)
    wrist.add_site(name="finger", pos=[0, 0, 0], size=[0.01, 0, 0])
    spec.worldbody.add_site(name="target", type=mujoco.mjtGeom.mjGEOM_SPHERE,
                            size=[0.05, 0, 0], rgba=[1, 0, 0, 1])

    spec.option.timestep = 0.01
    spec.option.iterations = 100
    spec.option.gravity = [0, 0, 0]
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_EULER
    for joint in spec.joints:
        joint.damping = [_DAMPING.get(joint.name, 0.8), 0, 0]
        joint.armature = 0.004
    for geom in spec.geoms:
        geom.density = 1000.0
        geom.friction = [0.5, 0.1, 0.1]
    spec.geom("table").pos = [0, 0.5, -0.425]
    for act in spec.actuators:
        act.gear = [_GEARS.get(act.target, 10.0), 0, 0, 0, 0, 0]
        act.ctrlrange = [-1.0, 1.0]

    spec.body("r_wrist_flex_link").pos = [forearm_length, 0, 0]
    spec.geom("fa").fromto = [0, 0, 0, forearm_length - FA_GAP, 0, 0]
    model = spec.compile()
    # The target site is compiled at the world origin, so MuJoCo flags it "same frame as its
    # body" and would ignore later writes to site_pos. Clear the flag so resets can move it.
    model.site_sameframe[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")] = 0
    return model


class Reacher7DOFEnv(gym.Env):
    """Move the fingertip of a 7-DOF arm (torque control, no gravity) to a random 3-D goal.

    Obs (20): qpos, qvel*dt, fingertip xyz, goal xyz. Reward from the next obs:
    -||d||_1 - 5||d||_2 with d = fingertip - goal (after clipping the obs to [-10, 10]).
    Never terminates; wrap in a TimeLimit of 50 steps (`make_reacher_env` does).
    Perturbation hooks: `set_goal_box` (goal shift) and `set_forearm_length` (dynamics shift).
    """

    metadata = {"render_modes": []}

    def __init__(self, forearm_length: float = NOMINAL_FOREARM,
                 goal_low: Sequence[float] = GOAL_LOW, goal_high: Sequence[float] = GOAL_HIGH):
        self._forearm_length = float(forearm_length)
        self.model = build_reacher_model(self._forearm_length)
        self.data = mujoco.MjData(self.model)
        self._bind_ids()
        self.set_goal_box(goal_low, goal_high)
        self.dt = self.model.opt.timestep * FRAME_SKIP  # 0.04 s per env step
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(ACT_DIM,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM,), dtype=np.float64)

    def _bind_ids(self) -> None:
        self._finger = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, "finger")
        self._target = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, "target")

    # --- perturbation hooks ------------------------------------------------------------------

    @property
    def forearm_length(self) -> float:
        return self._forearm_length

    @property
    def goal_box(self) -> tuple[np.ndarray, np.ndarray]:
        return self._goal_low.copy(), self._goal_high.copy()

    def set_goal_box(self, low: Sequence[float], high: Sequence[float]) -> None:
        """Change where `reset` samples goals (takes effect at the next reset)."""
        low_a, high_a = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        if low_a.shape != (3,) or high_a.shape != (3,) or np.any(low_a > high_a):
            raise ValueError(f"goal box needs two xyz triples with low <= high, got {low}, {high}")
        self._goal_low, self._goal_high = low_a, high_a

    def set_forearm_length(self, length: float) -> None:
        """Recompile the arm with a new forearm length, keeping joint state and goal.

        The fingertip moves (same joint angles, longer link); the episode may continue.
        """
        qpos, qvel, ctrl = self.data.qpos.copy(), self.data.qvel.copy(), self.data.ctrl.copy()
        goal, time = self.model.site_pos[self._target].copy(), self.data.time
        self.model = build_reacher_model(float(length))
        self.data = mujoco.MjData(self.model)
        self._bind_ids()
        self._forearm_length = float(length)
        self.model.site_pos[self._target] = goal
        self.data.qpos[:], self.data.qvel[:], self.data.ctrl[:] = qpos, qvel, ctrl
        self.data.time = time
        mujoco.mj_forward(self.model, self.data)

    # --- gymnasium API -----------------------------------------------------------------------

    def _obs(self) -> np.ndarray:
        d = self.data
        return np.concatenate([d.qpos, d.qvel * self.dt,
                               d.site_xpos[self._finger], d.site_xpos[self._target]])

    def _info(self, obs: np.ndarray) -> dict[str, Any]:
        return {"distance": float(np.linalg.norm(obs[FINGER] - obs[TARGET]))}

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)  # qpos = qvel = 0, ctrl = 0
        self.model.site_pos[self._target] = self.np_random.uniform(self._goal_low, self._goal_high)
        mujoco.mj_forward(self.model, self.data)
        obs = self._obs()
        return obs, self._info(obs)

    def step(self, action):
        self.data.ctrl[:] = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=FRAME_SKIP)
        # mj_step leaves site_xpos one substep behind qpos; refresh so the observed fingertip
        # is exactly the fingertip of the observed joint angles.
        mujoco.mj_kinematics(self.model, self.data)
        obs = self._obs()
        return obs, reacher_reward_np(obs), False, False, self._info(obs)


def reacher_reward_np(next_obs: np.ndarray) -> float:
    """Single-transition reward, the numpy twin of `reacher_reward`."""
    o = np.clip(next_obs, -10.0, 10.0)
    d = o[FINGER] - o[TARGET]
    return float(-np.abs(d).sum() - 5.0 * np.linalg.norm(d))


def reacher_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """mjrl's reward, batched: it depends only on the next obs (no action cost)."""
    o = next_obs.clamp(-10.0, 10.0)
    d = o[..., FINGER] - o[..., TARGET]
    return -d.abs().sum(dim=-1) - 5.0 * torch.linalg.vector_norm(d, dim=-1)


def reacher_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """The reacher never terminates (mjrl returns done=False)."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def reacher_success(episode_obs: torch.Tensor) -> torch.Tensor:
    """Our definition: fingertip within 5 cm of the goal at the last step of the episode."""
    last = episode_obs[..., -1, :]
    return torch.linalg.vector_norm(last[..., FINGER] - last[..., TARGET], dim=-1) < SUCCESS_RADIUS


def make_reacher_env(seed: Optional[int] = None, forearm_length: float = NOMINAL_FOREARM,
                     goal_low: Sequence[float] = GOAL_LOW,
                     goal_high: Sequence[float] = GOAL_HIGH) -> gym.Env:
    """The env with a 50-step TimeLimit, reset once with `seed`. Hooks via `env.unwrapped`."""
    env = gym.wrappers.TimeLimit(Reacher7DOFEnv(forearm_length, goal_low, goal_high), HORIZON)
    env.reset(seed=seed)
    return env


def reacher_7dof(forearm_length: float = NOMINAL_FOREARM, goal_low: Sequence[float] = GOAL_LOW,
                 goal_high: Sequence[float] = GOAL_HIGH) -> Task:
    """The `reacher-7dof` task; the arguments build a perturbed world from the start."""

    def make_env(seed: Optional[int] = None) -> gym.Env:
        return make_reacher_env(seed, forearm_length, goal_low, goal_high)

    return Task(
        name="reacher-7dof",
        make_env=make_env,
        reward_fn=reacher_reward,
        termination_fn=reacher_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        success_fn=reacher_success,
        description=("mjrl 7-DOF reacher (PR2-style arm from gymnasium pusher.xml, edited with "
                     "MjSpec): reach a random 3-D goal in 50 steps; success = final fingertip-goal "
                     "distance < 0.05 m."),
    )
