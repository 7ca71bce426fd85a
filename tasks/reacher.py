"""7-DOF reacher (mjrl's `mjrl_reacher_7dof-v0`), rebuilt for MuJoCo 4 from gymnasium's pusher.xml.

mjrl's own `sawyer.xml` is not shipped with any installed package, but it is the same PR2-style arm as
gymnasium's Pusher. Editing pusher.xml with `mujoco.MjSpec` at load time (tasks spec §4) gives the
mjrl model; building it in code also lets the forearm-length perturbation recompile masses and
inertias properly, instead of moving a body and leaving the link's inertia stale.

Perturbations (paper Figure 4; sizes are ours, the paper does not give them):
- `forearm` (the task's default `dynamics` target): forearm length L = scale x 0.321, default
  scale 1.3 (L = 0.417 m): a given arm pose puts the fingertip up to 9.6 cm elsewhere (at q = 0
  from x 0.821 to 0.917), about twice the 5 cm success radius, so a policy tuned to the nominal
  arm misses; yet the goals stay reachable (99% of the nominal box lies within 3 cm of the
  longer arm's workspace).
- goal shift: the goal box moves by (dx, dy, dz) from the nominal one, default (0, -1.2, 0): the
  nominal box x in [-0.3, 0.3], y in [-0.2, 0.2], z in [-0.25, 0.25] mirrored to the other side
  of the shoulder (y in [-1.4, -1.0]). Same size and shape, 0.8 m from the nominal box, and as
  reachable (99% of its goals lie within 3 cm of the arm's workspace, sampled over the joint
  ranges; the nominal box: 97%), but it needs the shoulder panned the other way.
Both are set relative to the nominal arm and box, so applying one twice changes nothing.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Optional, Sequence

import gymnasium as gym
import mujoco
import numpy as np
import torch

from stackelberg.tasks.base import ParamValue, Task, WorldChange

NOMINAL_FOREARM = 0.321  # r_wrist_flex_link.pos.x in pusher.xml / sawyer.xml
FA_GAP = 0.03  # geom `fa` ends this far before the wrist (0.291 = 0.321 - 0.03)
GOAL_LOW = (-0.3, -0.2, -0.25)
GOAL_HIGH = (0.3, 0.2, 0.25)
FOREARM_SCALE = 1.3  # default forearm perturbation: L = 1.3 x 0.321 (our choice, see above)
GOAL_SHIFT = (0.0, -1.2, 0.0)  # default goal shift: the box mirrored across the shoulder (y -0.6)
FRAME_SKIP = 4
HORIZON = 50
SUCCESS_RADIUS = 0.05  # metres; our own definition (mjrl has no success metric)
OBS_DIM, ACT_DIM = 20, 7
FINGER, TARGET = slice(14, 17), slice(17, 20)

_GEARS = {"r_shoulder_pan_joint": 20.0}  # the rest: 10
_DAMPING = {"r_shoulder_pan_joint": 2.0, "r_shoulder_lift_joint": 2.0}  # the rest: 0.8


def _pusher_xml() -> str:
    return os.path.join(os.path.dirname(gym.__file__), "envs", "mujoco", "assets", "pusher.xml")


def build_reacher_spec(forearm_length: float = NOMINAL_FOREARM) -> mujoco.MjSpec:
    """The mjrl 7-DOF reacher as an editable spec: pusher.xml with the edits of tasks spec §4."""
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
    set_forearm(spec, forearm_length)
    return spec


def set_forearm(spec: mujoco.MjSpec, length: float) -> None:
    """Forearm length L: the wrist at `r_wrist_flex_link.pos.x = L` and the capsule `fa` ending
    at L - 0.03, so that compiling recomputes the link's mass and inertia (tasks spec §4)."""
    if not length > FA_GAP:
        raise ValueError(f"forearm length must exceed {FA_GAP} m, got {length}")
    spec.body("r_wrist_flex_link").pos = [length, 0, 0]
    spec.geom("fa").fromto = [0, 0, 0, length - FA_GAP, 0, 0]


def compile_reacher(spec: mujoco.MjSpec) -> mujoco.MjModel:
    """Compile a reacher spec. The target site is compiled at the world origin, so MuJoCo flags
    it "same frame as its body" and would ignore later writes to site_pos: clear the flag so
    resets can move it."""
    model = spec.compile()
    model.site_sameframe[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "target")] = 0
    return model


def build_reacher_model(forearm_length: float = NOMINAL_FOREARM) -> mujoco.MjModel:
    """Compile the mjrl 7-DOF reacher with the given forearm length (see `set_forearm`)."""
    return compile_reacher(build_reacher_spec(forearm_length))


class Reacher7DOFEnv(gym.Env):
    """Move the fingertip of a 7-DOF arm (torque control, no gravity) to a random 3-D goal.

    Obs (20): qpos, qvel*dt, fingertip xyz, goal xyz. Reward from the next obs:
    -||d||_1 - 5||d||_2 with d = fingertip - goal (after clipping the obs to [-10, 10]).
    Never terminates; wrap in a TimeLimit of 50 steps (`make_reacher_env` does).
    Perturbation hooks: `set_goal_box` (goal shift), `set_forearm_length` (dynamics shift) and
    `edit_model` (any MjSpec edit, e.g. masses or damping, recompiled).
    """

    metadata = {"render_modes": []}

    def __init__(self, forearm_length: float = NOMINAL_FOREARM,
                 goal_low: Sequence[float] = GOAL_LOW, goal_high: Sequence[float] = GOAL_HIGH):
        self._forearm_length = float(forearm_length)
        self._spec = build_reacher_spec(self._forearm_length)
        self.model = compile_reacher(self._spec)
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
        self.edit_model(lambda spec: set_forearm(spec, float(length)))
        self._forearm_length = float(length)

    def edit_model(self, edit: Callable[[mujoco.MjSpec], None]) -> None:
        """Apply `edit` to the arm's MjSpec and recompile, so masses and inertias follow the
        geometry. Joint state, controls, time and the current goal are kept. Edits accumulate;
        a failing edit leaves the arm unchanged."""
        spec = self._spec.copy()
        edit(spec)
        model = compile_reacher(spec)
        data = mujoco.MjData(model)
        goal = self.model.site_pos[self._target].copy()
        data.qpos[:], data.qvel[:], data.ctrl[:] = self.data.qpos, self.data.qvel, self.data.ctrl
        data.time = self.data.time
        self._spec, self.model, self.data = spec, model, data
        self._bind_ids()
        self.model.site_pos[self._target] = goal
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


def reacher_goal_distance(episode_obs: torch.Tensor) -> torch.Tensor:
    """The paper's Figure 4 metric: fingertip-goal distance (m) averaged over the trajectory,
    lower is better. Averaged over the observations after each step (`episode_obs[..., 1:, :]`,
    the ones the reward scores); the reset observation does not depend on the policy."""
    after = episode_obs[..., 1:, :]
    return torch.linalg.vector_norm(after[..., FINGER] - after[..., TARGET], dim=-1).mean(dim=-1)


def _reacher_env(env: gym.Env) -> Reacher7DOFEnv:
    world = env.unwrapped
    if not isinstance(world, Reacher7DOFEnv):
        raise ValueError(f"expected a reacher-7dof env, got {type(world).__name__}")
    return world


def _change_forearm(env: gym.Env, params: Mapping[str, ParamValue]) -> None:
    scale = float(params["scale"])
    if not scale * NOMINAL_FOREARM > FA_GAP:
        raise ValueError(f"forearm scale must exceed {FA_GAP / NOMINAL_FOREARM:.3f} "
                         f"(the forearm capsule would vanish), got {scale:g}")
    _reacher_env(env).set_forearm_length(scale * NOMINAL_FOREARM)


def _shift_goals(env: gym.Env, params: Mapping[str, ParamValue]) -> None:
    shift = np.array([float(params[k]) for k in ("dx", "dy", "dz")])
    _reacher_env(env).set_goal_box(np.add(GOAL_LOW, shift), np.add(GOAL_HIGH, shift))


FOREARM_CHANGE = WorldChange(
    apply=_change_forearm, defaults={"scale": FOREARM_SCALE},
    doc=f"forearm length = scale x {NOMINAL_FOREARM} m, masses and inertias recompiled")
GOAL_CHANGE = WorldChange(
    apply=_shift_goals, defaults=dict(zip(("dx", "dy", "dz"), GOAL_SHIFT)),
    doc="goal box = the nominal box moved by (dx, dy, dz) metres")


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
        score_fn=reacher_goal_distance,
        score_name="goal_distance",
        goal_shift=GOAL_CHANGE,
        dynamics_targets={"forearm": FOREARM_CHANGE},
        default_dynamics_target="forearm",
    )
