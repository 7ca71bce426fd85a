"""HalfCheetah running over blocks floating on water (M3PO's Halfcheetah-pier).

The world is written here, through MjSpec, from gymnasium's half-cheetah: the floor becomes a
water surface that nothing touches, and the cheetah runs on a pier of `N_BLOCKS` boxes, each on
a vertical spring (a slide joint with stiffness) that holds its top level with the water at
rest and lets it sink when stepped on. Each block has its own damping and friction, the hidden
task: drawn uniformly from `DAMPING_RANGE` and `FRICTION_RANGE` at every reset and redrawn every
15 s (300 steps at dt = 0.05). A block's friction is the friction of every contact on it (the
blocks have contact priority).

The pier follows the cheetah: before every step each block is placed in the one slot of the
window [x - BACK, x - BACK + N_BLOCKS * BLOCK_LENGTH) (x the cheetah's root position) that
matches its index modulo N_BLOCKS, so a block left behind reappears ahead, keeping its damping,
friction and motion. The placement is a function of x alone, so the blocks' positions need no
state of their own.

The observation is the cheetah's own, with its x-velocity appended (18 dims, the blocks'
motion is not observed); the reward, x_velocity - 0.1 ||a||^2, is exact, and the cheetah never
terminates.
"""
from __future__ import annotations

import math
import os
import re
from typing import Callable, Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch
from gymnasium.envs.mujoco.half_cheetah_v5 import HalfCheetahEnv

from stackelberg.tasks.base import Task
from stackelberg.tasks.gym_tasks import AppendXVelocity
from stackelberg.tasks.switching import SwitchingWorld
from stackelberg.tasks.switching_cheetah import HORIZON, OBS_DIM, cheetah_task
from stackelberg.worlds.mujoco_edit import scale_mass

N_BLOCKS = 8
BLOCK_LENGTH = 1.0  # m along x; the cheetah's torso is 1 m long, so it spans one or two blocks
BLOCK_HALF_HEIGHT, BLOCK_HALF_WIDTH = 0.25, 0.5
BLOCK_MASS = 5.0  # kg (the cheetah: about 14 kg)
BLOCK_STIFFNESS = 2000.0  # N/m: the whole cheetah on one block sinks it about 7 cm
BLOCK_TRAVEL = 0.3  # m, the slide joint's limit either way
BACK = 2.0  # m of pier behind the cheetah's root
WATER_DEPTH = 0.1  # m, how far below the blocks' resting tops the (visual) water surface lies
DAMPING_RANGE = (0.0, 200.0)  # N s/m; 0 bobs freely, 200 is about critical for a bare block
FRICTION_RANGE = (0.2, 0.8)  # the cheetah's own geoms have 0.4
CHEETAH_NQ, CHEETAH_NV = 9, 9  # rootx, rootz, rooty and six joints
RESET_NOISE = 0.1  # HalfCheetah-v5's reset_noise_scale
XML = os.path.join(os.path.dirname(gym.__file__), "envs", "mujoco", "assets", "half_cheetah.xml")


def block_name(i: int) -> str:
    return f"block{i}"


def cheetah_spec() -> mujoco.MjSpec:
    """The half-cheetah's spec at its file's total mass (14 kg), with that mass put on its own
    bodies: the file sets it through the compiler, which would rescale the pier's blocks too
    (and MuJoCo deprecates the attribute, warning on every access)."""
    with open(XML) as f:
        text = f.read()
    total = re.search(r'settotalmass="([^"]+)"', text)
    spec = mujoco.MjSpec.from_string(re.sub(r'\s*settotalmass="[^"]+"', "", text))
    if total is not None:
        scale_mass(spec, float(total.group(1)) / float(spec.compile().body_mass.sum()))
    return spec


def build_pier(spec: mujoco.MjSpec) -> None:
    """Turn the half-cheetah's spec (`cheetah_spec`) into the pier world: a water floor, blocks
    on springs."""
    floor = next(g for g in spec.geoms if g.name == "floor")
    floor.contype, floor.conaffinity = 0, 0
    floor.pos = [0.0, 0.0, -WATER_DEPTH]
    floor.rgba = [0.2, 0.4, 0.8, 1.0]
    floor.material = ""
    for i in range(N_BLOCKS):
        body = spec.worldbody.add_body(name=block_name(i),
                                       pos=[(i + 0.5) * BLOCK_LENGTH - BACK, 0.0, -BLOCK_HALF_HEIGHT])
        body.add_joint(name=block_name(i), type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1],
                       stiffness=BLOCK_STIFFNESS,
                       springref=BLOCK_MASS * 9.81 / BLOCK_STIFFNESS,  # at rest: top at z = 0
                       limited=mujoco.mjtLimited.mjLIMITED_TRUE, range=[-BLOCK_TRAVEL, BLOCK_TRAVEL])
        shade = 0.45 + 0.1 * (i % 2)
        body.add_geom(name=block_name(i), type=mujoco.mjtGeom.mjGEOM_BOX,
                      size=[BLOCK_LENGTH / 2, BLOCK_HALF_WIDTH, BLOCK_HALF_HEIGHT],
                      mass=BLOCK_MASS, contype=0, conaffinity=1, priority=1,
                      rgba=[shade, 0.35, 0.2, 1.0])


class PierCheetahEnv(HalfCheetahEnv):
    """HalfCheetah-v5 on the pier; observation, reward and reset noise are the cheetah's."""

    def __init__(self, **kwargs):
        self._spec = cheetah_spec()
        build_pier(self._spec)
        super().__init__(xml_file=XML, **kwargs)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(OBS_DIM - 1,), dtype=np.float64)
        self._bind_ids()

    def _initialize_simulation(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        model = self._spec.compile()
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.width)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.height)
        return model, mujoco.MjData(model)

    def _bind_ids(self) -> None:
        m = self.model
        self.block_bodies = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_BODY, block_name(i))
                                      for i in range(N_BLOCKS)])
        self.block_geoms = np.array([mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_GEOM, block_name(i))
                                     for i in range(N_BLOCKS)])
        joints = [mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_JOINT, block_name(i)) for i in range(N_BLOCKS)]
        self.block_dofs = m.jnt_dofadr[joints].copy()

    def place_blocks(self) -> None:
        """Each block in its slot of the window around the cheetah (see the module docstring)."""
        start = math.floor((float(self.data.qpos[0]) - BACK) / BLOCK_LENGTH)
        for i, body in enumerate(self.block_bodies):
            slot = start + (i - start) % N_BLOCKS
            self.model.body_pos[body, 0] = (slot + 0.5) * BLOCK_LENGTH

    def _get_obs(self) -> np.ndarray:
        return np.concatenate([self.data.qpos[1:CHEETAH_NQ], self.data.qvel[:CHEETAH_NV]])

    def reset_model(self) -> np.ndarray:
        qpos, qvel = self.init_qpos.copy(), self.init_qvel.copy()
        qpos[:CHEETAH_NQ] += self.np_random.uniform(-RESET_NOISE, RESET_NOISE, size=CHEETAH_NQ)
        qvel[:CHEETAH_NV] += RESET_NOISE * self.np_random.standard_normal(CHEETAH_NV)
        self.set_state(qpos, qvel)  # the blocks start at rest
        self.place_blocks()
        return self._get_obs()

    def step(self, action):
        self.place_blocks()
        return super().step(action)

    def edit_model(self, edit: Callable[[mujoco.MjSpec], None]) -> None:
        """Apply `edit` to the pier's spec and recompile (a perturbation); the simulation state
        is kept, and the blocks are placed again. A failing edit leaves the world unchanged."""
        spec = self._spec.copy()
        edit(spec)
        model = spec.compile()
        data = mujoco.MjData(model)
        data.qpos[:], data.qvel[:], data.ctrl[:] = self.data.qpos, self.data.qvel, self.data.ctrl
        data.time = self.data.time
        self._spec, self.model, self.data = spec, model, data
        self.mujoco_renderer.close()
        self.mujoco_renderer.model, self.mujoco_renderer.data = model, data
        self._bind_ids()
        self.place_blocks()
        mujoco.mj_forward(model, data)


class PierWorld(SwitchingWorld):
    """Hidden task: the blocks' damping (N_BLOCKS numbers), then their friction (N_BLOCKS)."""

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([rng.uniform(*DAMPING_RANGE, size=N_BLOCKS),
                               rng.uniform(*FRICTION_RANGE, size=N_BLOCKS)])

    def apply(self, hidden: np.ndarray) -> None:
        world: PierCheetahEnv = self.env.unwrapped  # type: ignore[assignment]
        world.model.dof_damping[world.block_dofs] = hidden[:N_BLOCKS]
        world.model.geom_friction[world.block_geoms, 0] = hidden[N_BLOCKS:]


def make_pier_env(switch_seconds: Optional[float] = 15.0, render_mode: Optional[str] = None) -> gym.Env:
    """The pier cheetah with gymnasium's 1000-step time limit, x-velocity observed."""
    env = gym.wrappers.TimeLimit(PierCheetahEnv(render_mode=render_mode), max_episode_steps=HORIZON)
    return PierWorld(AppendXVelocity(env), switch_seconds)


def halfcheetah_pier(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = make_pier_env(switch_seconds)
        env.reset(seed=seed)
        return env

    def reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
        act = act.clamp(-1.0, 1.0)
        return next_obs[..., OBS_DIM - 1] - 0.1 * (act**2).sum(dim=-1).to(next_obs.dtype)

    return cheetah_task("halfcheetah-pier", make_env, reward, learned_reward=False, description=(
        f"HalfCheetah-v5 on {N_BLOCKS} blocks floating on springs (x-velocity appended, 18 dims); "
        f"each block's damping and friction hidden, redrawn every 15 s (300 steps)."))
