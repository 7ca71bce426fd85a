"""DKitty-Orient (ROBEL `DKittyOrientRandom-v0`): turn the quadruped in place to face a target.

The torso hangs on six single-DOF joints (slides Tx, Ty, Tz; hinges Rx, Ry, Rz), so its rotation
is R = Rx(qpos3) Ry(qpos4) Rz(qpos5) (intrinsic x-y-z Euler angles). The kitty faces its +y axis.

Observation (53), in ROBEL's key order:

| idx   | meaning                                                              |
|-------|----------------------------------------------------------------------|
| 0:3   | root position (slide displacements)                                  |
| 3:6   | root x-y-z Euler angles, recomputed from R                           |
| 6:18  | leg joint angles (FR, FL, BL, BR; hip, middle, bottom)               |
| 18:21 | root linear velocity (slide rates)                                   |
| 21:24 | root Euler-angle rates                                               |
| 24:36 | leg joint velocities                                                 |
| 36:48 | last (clipped) action                                                |
| 48    | upright = R[2, 2]                                                    |
| 49:51 | current facing = R[0:2, 1] (not normalized)                          |
| 51:53 | desired facing = u / ||u + 1e-8||, u = target xy - root xy           |
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from stackelberg.tasks.base import Task
from stackelberg.tasks.robel.assets import DKITTY_ORIENT_XML, load_model, model_path
from stackelberg.tasks.robel.control import PositionGroup, RobelEnv, safe_sqrt

OBS_DIM, ACT_DIM, HORIZON = 53, 12, 80
_LEGS = (("FR", 1), ("FL", 2), ("BL", 3), ("BR", 4))
LEG_JOINTS = tuple(f"A:{leg}J{n}{k}" for leg, n in _LEGS for k in range(3))
_RIGHT, _LEFT = (-0.5, 0.279), (-0.279, 0.5)  # hip ranges mirror between the sides
LEG_RANGES = [
    joint for hip in (_RIGHT, _LEFT, _LEFT, _RIGHT) for joint in (hip, (0.0, np.pi / 2), (-2.0, 0.0))
]
LEG_VMAX = np.pi
ROOT_JOINTS = ("Tx", "Ty", "Tz", "Rx", "Ry", "Rz")
INITIAL_YAW_RANGE = (-np.pi / 3, np.pi / 3)
TARGET_ANGLE_RANGE = (2 * np.pi / 3, 4 * np.pi / 3)
UPRIGHT_THRESHOLD = 0.9  # cos(~25 deg): below it the kitty has fallen
# obs slices
ROOT_POS, ROOT_EULER, UPRIGHT = slice(0, 3), slice(3, 6), 48
CUR_FACING, DES_FACING = slice(49, 51), slice(51, 53)


class DKittyOrientEnv(RobelEnv):
    """DKittyOrientRandom under MuJoCo 4: ROBEL position control, falls terminate, 80 steps."""

    def __init__(self) -> None:
        model = load_model(DKITTY_ORIENT_XML)
        group = PositionGroup.build(model, LEG_JOINTS, LEG_RANGES, LEG_VMAX)
        super().__init__(model, group, OBS_DIM, HORIZON)
        self.fullpath = model_path(DKITTY_ORIENT_XML)  # lets perturbations recompile the model
        root = np.array([model.jnt_qposadr[model.joint(j).id] for j in ROOT_JOINTS])
        if not np.array_equal(root, np.arange(6)):
            raise ValueError(f"expected the root joints at qpos[0:6], got {root}")
        self._target_site = model.site("target").id
        self.initial_yaw = self.target_angle = 0.0

    def _reset_task(self) -> Dict[str, Any]:
        # Same draw order as ROBEL: initial yaw, then target angle.
        self.initial_yaw = float(self.np_random.uniform(*INITIAL_YAW_RANGE))
        self.target_angle = float(self.np_random.uniform(*TARGET_ANGLE_RANGE))
        d = self.data
        d.qpos[self.group.qpos_idx] = self.group.clip_qpos(np.zeros(ACT_DIM))
        d.qvel[:] = 0.0
        d.qpos[0:6] = (0.0, 0.0, 0.0, 0.0, 0.0, self.initial_yaw)
        # 1 m away on the floor; +pi/2 because the kitty faces its +y axis.
        a = self.target_angle + np.pi / 2
        self.model.site_pos[self._target_site] = (np.cos(a), np.sin(a), 0.0)
        return {"initial_yaw": self.initial_yaw, "target_angle": self.target_angle}

    def _rotation(self) -> np.ndarray:
        return Rotation.from_euler("XYZ", self.data.qpos[3:6]).as_matrix()

    def _observe(self) -> np.ndarray:
        d, idx = self.data, self.group.qpos_idx
        rot = self._rotation()
        euler = _matrix_to_xyz_euler(rot)
        u = d.site_xpos[self._target_site][:2] - d.qpos[0:2]
        desired = u / np.linalg.norm(u + 1e-8)  # sic: ROBEL adds 1e-8 before the norm
        return np.concatenate([
            d.qpos[0:3], euler, d.qpos[idx], d.qvel[0:3], d.qvel[3:6], d.qvel[idx],
            self.last_action, [rot[2, 2]], rot[0:2, 1], desired,
        ])

    def _evaluate(self) -> Tuple[Dict[str, float], bool, Dict[str, Any]]:
        # From the simulator state, following ROBEL; `orient_reward` must agree.
        rot = self._rotation()
        upright = float(rot[2, 2])
        facing = rot[0:2, 1]
        u = self.data.site_xpos[self._target_site][:2] - self.data.qpos[0:2]
        desired = u / np.linalg.norm(u + 1e-8)
        norms = np.linalg.norm(facing) * np.linalg.norm(desired)
        cosine = float(facing @ desired) / (norms if norms > 0 else 1.0)
        err = float(np.arccos(np.clip(cosine, -1.0, 1.0)))
        level = float(upright > 0.96)
        terms = {
            "upright": 2.0 * (upright - UPRIGHT_THRESHOLD) / (1.0 - UPRIGHT_THRESHOLD),
            "falling": -500.0 if upright < UPRIGHT_THRESHOLD else 0.0,
            "alignment_error_cost": -4.0 * err,
            "center_distance_cost": -4.0 * float(np.linalg.norm(self.data.qpos[0:2])),
            "bonus_small": 5.0 * (float(err < 0.26) + level),
            "bonus_big": 10.0 * float(err < 0.087) * level,
        }
        terminated = not upright >= UPRIGHT_THRESHOLD  # NaN counts as fallen
        score = {"success": bool(err < 0.087 and level > 0), "points": 1.0 - err / np.pi,
                 "angle_error": err, "upright": upright}
        return terms, terminated, score


def _matrix_to_xyz_euler(rot: np.ndarray) -> np.ndarray:
    """Intrinsic x-y-z Euler angles of R = Rx(a) Ry(b) Rz(c), in closed form.

    Equals the joint angles qpos[3:6] while |b| < pi/2, like ROBEL's tracker value. Closed form
    instead of scipy's `as_euler`, which warns at gimbal lock and costs more than the formula.
    """
    a = np.arctan2(-rot[1, 2], rot[2, 2])
    b = np.arcsin(np.clip(rot[0, 2], -1.0, 1.0))
    c = np.arctan2(-rot[0, 1], rot[0, 0])
    return np.array([a, b, c])


# --- batched torch functions ----------------------------------------------------------------

def angle_error(next_obs: torch.Tensor) -> torch.Tensor:
    """Angle between current and desired facing, arccos of their cosine.

    Computed as atan2(|cross|, dot): the same angle, but accurate near 0 and with a finite
    gradient there (arccos has an infinite slope at 1). Zero vectors give pi/2, as in ROBEL.
    """
    cur, des = next_obs[..., CUR_FACING], next_obs[..., DES_FACING]
    dot = (cur * des).sum(-1)
    cross = cur[..., 0] * des[..., 1] - cur[..., 1] * des[..., 0]
    degenerate = (cur == 0).all(-1) | (des == 0).all(-1)
    angle = torch.atan2(cross.abs(), torch.where(degenerate, torch.ones_like(dot), dot))
    return torch.where(degenerate, torch.full_like(angle, np.pi / 2), angle)


def orient_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """ROBEL's orient reward; every term comes from the next observation."""
    upright = next_obs[..., UPRIGHT]
    err = angle_error(next_obs)
    pos = next_obs[..., ROOT_POS][..., 0:2]
    level = (upright > 0.96).to(upright.dtype)
    f = lambda b: b.to(upright.dtype)
    return (
        2.0 * (upright - UPRIGHT_THRESHOLD) / (1.0 - UPRIGHT_THRESHOLD)
        - 500.0 * f(upright < UPRIGHT_THRESHOLD)
        - 4.0 * err
        - 4.0 * safe_sqrt((pos * pos).sum(-1))
        + 5.0 * (f(err < 0.26) + level)
        + 10.0 * f(err < 0.087) * level
    )


def orient_termination(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """Fallen: upright < 0.9 (NaN counts as fallen, so broken model rollouts stop too)."""
    return ~(next_obs[..., UPRIGHT] >= UPRIGHT_THRESHOLD)


def orient_success(episode_obs: torch.Tensor) -> torch.Tensor:
    """Success at the last step (ROBEL's logger convention): angle error < 0.087 and upright > 0.96."""
    last = episode_obs[..., -1, :]
    return (angle_error(last) < 0.087) & (last[..., UPRIGHT] > 0.96)


def orient_final_error(episode_obs: torch.Tensor) -> torch.Tensor:
    """Facing error (rad) at the last step: graded progress below the success threshold."""
    return angle_error(episode_obs[..., -1, :])


def make_dkitty_orient_env(seed: Optional[int] = None) -> DKittyOrientEnv:
    """A DKitty-Orient env, already reset once with `seed`."""
    env = DKittyOrientEnv()
    env.reset(seed=seed)
    return env


def dkitty_orient() -> Task:
    return Task(
        name="dkitty-orient",
        make_env=make_dkitty_orient_env,
        reward_fn=orient_reward,
        termination_fn=orient_termination,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        success_fn=orient_success,
        score_fn=orient_final_error,
        score_name="final facing error (rad)",
        angle_dims=(3, 5),  # roll and yaw come from atan2 and wrap at +-pi (pitch stays in +-pi/2)
        description=(
            "ROBEL DKittyOrientRandom-v0 (MuJoCo 4): turn in place from yaw U(-60, 60) deg to face a "
            "target at 180 +- 60 deg. Obs 53; 80 steps of 0.1 s; terminates when upright < 0.9; "
            "success = angle error < 0.087 rad and upright > 0.96 at the last step."
        ),
    )
