"""Walker2d whose torso mass and ground friction switch (M3PO's Walker2D-randomparams).

Walker2d-v5 with the x-velocity appended (18 dims). Every 15 s of simulated time (1875 steps at
dt = 0.008, longer than the 1000-step episode, so in practice once per episode, at reset) the
torso's mass and the ground's friction are multiplied by 1.5^u, u ~ U(-3, 3) each (the range of
PEARL's rand_param_envs; M3PO gives none). The reward, x_velocity + 1[healthy] - 1e-3 ||a||^2, and
the termination are exact functions of the next observation: only the dynamics are hidden.

Ground friction: MuJoCo gives a contact the larger of its two geoms' frictions, and the
walker's feet (1.9) are grippier than gymnasium's floor (0.7), so scaling the floor alone would
rarely change anything. The floor here therefore has contact priority (its friction is every
floor contact's friction), with a nominal friction of 1.9, which keeps the feet's contacts as in
Walker2d-v5 (other geoms touching the floor, only in a fall, see 1.9 instead of 0.9).
"""
from __future__ import annotations

from typing import Optional

import gymnasium as gym
import mujoco
import numpy as np
import torch

from stackelberg.tasks.base import Task
from stackelberg.tasks.gym_tasks import AppendXVelocity
from stackelberg.tasks.switching import SwitchingWorld, body_id, geom_id
from stackelberg.worlds.mujoco_edit import edit_model

HORIZON = 1000
OBS_DIM, ACT_DIM = 18, 6
X_VEL = 17
HEALTHY_Z = (0.8, 2.0)  # gymnasium's defaults, open intervals
HEALTHY_ANGLE = (-1.0, 1.0)
CTRL_COST_WEIGHT = 1e-3
LOG_SCALE_BASE, LOG_SCALE_RANGE = 1.5, 3.0  # multipliers 1.5^U(-3, 3)
NOMINAL_FLOOR_FRICTION = 1.9  # the feet's, see the module docstring


def walker_healthy(next_obs: torch.Tensor) -> torch.Tensor:
    """Gymnasium's `is_healthy`: torso height (obs[0]) and angle (obs[1]) inside open ranges."""
    z, angle = next_obs[..., 0], next_obs[..., 1]
    return (z > HEALTHY_Z[0]) & (z < HEALTHY_Z[1]) & (angle > HEALTHY_ANGLE[0]) & (angle < HEALTHY_ANGLE[1])


def walker_done(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    return ~walker_healthy(next_obs)


def walker_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    act = act.clamp(-1.0, 1.0)
    healthy = walker_healthy(next_obs).to(next_obs.dtype)
    return next_obs[..., X_VEL] + healthy - CTRL_COST_WEIGHT * (act**2).sum(dim=-1).to(next_obs.dtype)


class RandomParamsWorld(SwitchingWorld):
    """Hidden task: (torso mass multiplier, ground friction multiplier).

    Applied through MjSpec and a recompile (`stackelberg.worlds.mujoco_edit`), so the inertia and
    every constant the compiler derives follow the mass, and a perturbation's recompile can
    carry the model over. The torso's geom densities and the floor's friction are set from their
    nominal values: the hidden task owns them."""

    def __init__(self, env: gym.Env, switch_seconds: Optional[float] = 15.0):
        spec = mujoco.MjSpec.from_file(env.unwrapped.fullpath)  # type: ignore[attr-defined]
        if spec.body("torso") is None or spec.geom("floor") is None:
            raise ValueError("RandomParamsWorld needs a body 'torso' and a geom 'floor'")
        self.nominal_density = [g.density for g in spec.body("torso").geoms]
        self.nominal_friction = np.array([NOMINAL_FLOOR_FRICTION, *spec.geom("floor").friction[1:]])
        self.floor_priority = 1 + max(g.priority for g in spec.geoms)
        model: mujoco.MjModel = env.unwrapped.model  # type: ignore[attr-defined]
        self.torso, self.floor = body_id(model, "torso"), geom_id(model, "floor")
        super().__init__(env, switch_seconds)

    def draw(self, rng: np.random.Generator) -> np.ndarray:
        return LOG_SCALE_BASE ** rng.uniform(-LOG_SCALE_RANGE, LOG_SCALE_RANGE, size=2)

    def apply(self, hidden: np.ndarray) -> None:
        mass, friction = float(hidden[0]), float(hidden[1])

        def edit(spec: mujoco.MjSpec) -> None:
            for geom, density in zip(spec.body("torso").geoms, self.nominal_density):
                geom.density = density * mass
            floor = spec.geom("floor")
            floor.friction = self.nominal_friction * friction
            floor.priority = self.floor_priority

        edit_model(self.env, edit)


def walker2d_randomparams(switch_seconds: Optional[float] = 15.0) -> Task:
    def make_env(seed: Optional[int] = None) -> gym.Env:
        env = RandomParamsWorld(AppendXVelocity(gym.make("Walker2d-v5")), switch_seconds)
        env.reset(seed=seed)
        return env

    return Task(
        name="walker2d-randomparams",
        make_env=make_env,
        reward_fn=walker_reward,
        termination_fn=walker_done,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        description=("Walker2d-v5, x-velocity appended (18 dims); torso mass and ground friction "
                     "x 1.5^U(-3,3), redrawn every 15 s (1875 steps: once per episode)."),
    )
