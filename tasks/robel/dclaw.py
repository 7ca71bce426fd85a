"""DClaw-Turn: turn a three-spoke valve to a target angle. Two of ROBEL's variants:
`dclaw-turn` is `DClawTurnRandom-v0` (start U(-60, 60) deg, target 180 +- 60 deg) and
`dclaw-turn-fixed` is `DClawTurnFixed-v0` (start 0, target 180 deg: one deterministic episode),
the ROBEL README's example env. [P] names neither; RESULTS reports PAL on both.

Observation (30): ROBEL's 21-dim default observation with the claw joint velocities appended,
because ROBEL's reward penalizes those velocities and a learned model can then be scored
exactly from its predicted observation.

| idx   | meaning                                            |
|-------|----------------------------------------------------|
| 0:9   | claw joint angles                                  |
| 9, 10 | cos, sin of the valve angle                        |
| 11:20 | last (clipped) action, zeros right after reset     |
| 20    | target_error = wrap(target - valve angle)          |
| 21:30 | claw joint velocities                              |
| 30    | valve angular velocity (`dclaw-turn-vel` only)     |

`dclaw-turn-vel` (ours, not ROBEL's default observation; ROBEL's obs dict has it as
`object_qvel`): the valve spins on after the claw lets go (the change of the valve angle at step
t correlates 0.73 with that at t - 1 in PAL's data), which a one-step model cannot predict from
an observation without the valve's velocity.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
from scipy.spatial.transform import Rotation

from stackelberg.tasks.base import Symmetry, Task
from stackelberg.tasks.robel.assets import DCLAW_TURN_XML, load_model, model_path
from stackelberg.tasks.robel.control import PositionGroup, RobelEnv, safe_sqrt, wrap_angle

OBS_DIM, ACT_DIM, HORIZON = 30, 9, 40
CLAW_JOINTS = ("FFJ10", "FFJ11", "FFJ12", "MFJ20", "MFJ21", "MFJ22", "THJ30", "THJ31", "THJ32")
CLAW_RANGES = [(-0.48, 0.48), (-np.pi / 3, np.pi / 3), (-np.pi / 2, np.pi / 2)] * 3
CLAW_VMAX = 2 * np.pi / 3
RESET_POSE = np.array([0.0, -np.pi / 3, np.pi / 3] * 3)  # also the nominal pose of the reward
VALVE_JOINT = "valve_OBJRx"
VALVE_RANGE = (-np.pi, np.pi)  # ROBEL's object group range, used to clip the reset angle
START_RANGE = (-np.pi / 3, np.pi / 3)
TARGET_OFFSET_RANGE = (-np.pi / 3, np.pi / 3)  # target = wrap(pi + offset)
SUCCESS_THRESHOLD = 0.1
# obs slices
QPOS, COS, SIN, LAST_ACTION, TARGET_ERROR, QVEL = slice(0, 9), 9, 10, slice(11, 20), 20, slice(21, 30)
VALVE_VEL = 30  # dclaw-turn-vel only



def _mirror(valve_velocity: bool = False) -> Symmetry:
    """Reflection through the vertical plane that holds the thumb and the valve axis.

    It swaps the first two fingers (FF <-> MF), flips the sign of every finger's sideways
    (abduction, J*0) joint and keeps the two bending joints; the valve angle, its sine and the
    target error change sign. The start and target distributions are symmetric under it and the
    reward depends only on |target error|, the pose's distance to a symmetric nominal pose and the
    joint speeds. The scene is mirror symmetric up to ROBEL's rounded mounting angles (3.14, 2.6):
    one simulated step of a mirrored state differs from the mirrored step by 0.5-7% of the step's
    own change, per coordinate (tests/test_robel_tasks.py measures it).
    """
    joints = (3, 4, 5, 0, 1, 2, 6, 7, 8)
    joint_sign = (-1.0, 1.0, 1.0) * 3

    def shifted(start: int) -> tuple[int, ...]:
        return tuple(start + j for j in joints)

    obs_index = shifted(0) + (9, 10) + shifted(11) + (20,) + shifted(21)
    obs_sign = joint_sign + (1.0, -1.0) + joint_sign + (-1.0,) + joint_sign
    if valve_velocity:  # the valve turns the other way in the mirror
        obs_index, obs_sign = obs_index + (VALVE_VEL,), obs_sign + (-1.0,)
    return Symmetry(obs_index, obs_sign, joints, joint_sign)


MIRROR = _mirror()
MIRROR_VEL = _mirror(valve_velocity=True)


class DClawTurnEnv(RobelEnv):
    """DClawTurnRandom under MuJoCo 4: ROBEL position control, no termination, 40 steps."""

    def __init__(self, fixed: bool = False, valve_velocity: bool = False) -> None:
        """fixed=True: ROBEL's DClawTurnFixed (start 0, target pi), else DClawTurnRandom;
        valve_velocity=True appends the valve's angular velocity to the observation."""
        self.fixed, self.valve_velocity = fixed, valve_velocity
        model = load_model(DCLAW_TURN_XML)
        group = PositionGroup.build(model, CLAW_JOINTS, CLAW_RANGES, CLAW_VMAX)
        super().__init__(model, group, OBS_DIM + int(valve_velocity), HORIZON)
        self.fullpath = model_path(DCLAW_TURN_XML)  # lets perturbations recompile the model
        valve = model.joint(VALVE_JOINT).id
        self._valve_q = int(model.jnt_qposadr[valve])
        self._valve_v = int(model.jnt_dofadr[valve])
        self._target_body = model.body("target").id
        self.target = 0.0

    def _reset_task(self) -> Dict[str, Any]:
        if self.fixed:  # ROBEL's Fixed variant draws nothing
            start, self.target = 0.0, float(wrap_angle(np.pi))
        else:  # same draw order as ROBEL: start angle, then target offset
            start = self.np_random.uniform(*START_RANGE)
            self.target = float(wrap_angle(np.pi + self.np_random.uniform(*TARGET_OFFSET_RANGE)))
        # The target body only marks the goal visually (ROBEL sets its yaw too).
        yaw = Rotation.from_euler("z", self.target)
        self.model.body_quat[self._target_body] = yaw.as_quat(scalar_first=True)
        d = self.data
        d.qpos[self.group.qpos_idx] = self.group.clip_qpos(RESET_POSE)
        d.qvel[self.group.qpos_idx] = 0.0
        d.qpos[self._valve_q] = np.clip(start, *VALVE_RANGE)
        d.qvel[self._valve_v] = 0.0
        return {"valve_angle": float(d.qpos[self._valve_q]), "target": self.target}

    def target_error(self) -> float:
        return float(wrap_angle(self.target - self.data.qpos[self._valve_q]))

    def _observe(self) -> np.ndarray:
        d, idx = self.data, self.group.qpos_idx
        angle = d.qpos[self._valve_q]
        return np.concatenate([
            d.qpos[idx], [np.cos(angle), np.sin(angle)], self.last_action, [self.target_error()],
            d.qvel[idx], [d.qvel[self._valve_v]] if self.valve_velocity else [],
        ])

    def _evaluate(self) -> Tuple[Dict[str, float], bool, Dict[str, Any]]:
        # Straight from the simulator state, following ROBEL; `turn_reward` must agree.
        dist = abs(self.target_error())
        qpos = self.data.qpos[self.group.qpos_idx]
        qvel = self.data.qvel[self.group.qpos_idx]
        terms = {
            "target_dist_cost": -5.0 * dist,
            "pose_diff_cost": -float(np.linalg.norm(qpos - RESET_POSE)),
            "joint_vel_cost": -float(np.linalg.norm(qvel[np.abs(qvel) >= 0.5])),
            "bonus_small": 10.0 * float(dist < 0.25),
            "bonus_big": 50.0 * float(dist < 0.10),
        }
        score = {"success": bool(dist < SUCCESS_THRESHOLD), "points": 1.0 - dist / np.pi,
                 "target_distance": dist}
        return terms, False, score


# --- batched torch functions ----------------------------------------------------------------

def turn_reward(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """ROBEL's turn reward from the next observation; both norms are taken per row."""
    dist = next_obs[..., TARGET_ERROR].abs()
    nominal = torch.as_tensor(RESET_POSE, dtype=next_obs.dtype, device=next_obs.device)
    pose = next_obs[..., QPOS] - nominal
    vel = next_obs[..., QVEL]
    fast = (vel.abs() >= 0.5).to(vel.dtype)  # only joints at >= 0.5 rad/s are penalized
    return (
        -5.0 * dist
        - safe_sqrt((pose * pose).sum(-1))
        - safe_sqrt((vel * vel * fast).sum(-1))
        + 10.0 * (dist < 0.25).to(dist.dtype)
        + 50.0 * (dist < 0.10).to(dist.dtype)
    )


def turn_termination(obs: torch.Tensor, act: torch.Tensor, next_obs: torch.Tensor) -> torch.Tensor:
    """DClaw-Turn never terminates early."""
    return torch.zeros(next_obs.shape[:-1], dtype=torch.bool, device=next_obs.device)


def turn_success(episode_obs: torch.Tensor) -> torch.Tensor:
    """Success is judged at the last step, as ROBEL's episode logger does: |target_error| < 0.1."""
    return episode_obs[..., -1, TARGET_ERROR].abs() < SUCCESS_THRESHOLD


def turn_final_error(episode_obs: torch.Tensor) -> torch.Tensor:
    """|target error| (rad) at the last step: how far from the target the valve ends, which
    shows progress long before the 0.1 rad success threshold is met."""
    return episode_obs[..., -1, TARGET_ERROR].abs()


def make_dclaw_turn_env(seed: Optional[int] = None, fixed: bool = False,
                        valve_velocity: bool = False) -> DClawTurnEnv:
    """A DClaw-Turn env (Random, or Fixed with `fixed`), already reset once with `seed`."""
    env = DClawTurnEnv(fixed=fixed, valve_velocity=valve_velocity)
    env.reset(seed=seed)
    return env


def make_dclaw_turn_fixed_env(seed: Optional[int] = None) -> DClawTurnEnv:
    return make_dclaw_turn_env(seed, fixed=True)


def make_dclaw_turn_vel_env(seed: Optional[int] = None) -> DClawTurnEnv:
    return make_dclaw_turn_env(seed, valve_velocity=True)


def dclaw_turn_vel() -> Task:
    """`dclaw_turn` with the valve's angular velocity as observation 30 (ours): the same world,
    reward and success; the model player can then predict a valve that spins on."""
    return dataclasses.replace(
        dclaw_turn(), name="dclaw-turn-vel", make_env=make_dclaw_turn_vel_env,
        obs_dim=OBS_DIM + 1, symmetry=MIRROR_VEL,
        description=(
            "DClaw-Turn (ROBEL DClawTurnRandom-v0, MuJoCo 4) with the valve's angular velocity "
            "observed: ROBEL's 21-dim default + claw joint velocities + valve velocity (31); 40 "
            "steps of 0.1 s; success = |target error| < 0.1 rad at the last step."))


def dclaw_turn_fixed() -> Task:
    """ROBEL's DClawTurnFixed-v0: the same world, reward and success as `dclaw_turn`, but every
    episode starts at 0 with the target at 180 deg (either way round reaches it)."""
    return dataclasses.replace(
        dclaw_turn(), name="dclaw-turn-fixed", make_env=make_dclaw_turn_fixed_env,
        description=(
            "ROBEL DClawTurnFixed-v0 (MuJoCo 4): turn a valve from 0 to 180 deg, the same episode "
            "every time. Obs = ROBEL's 21-dim default + claw joint velocities (30); 40 steps of "
            "0.1 s; success = |target error| < 0.1 rad at the last step."))


def dclaw_turn() -> Task:
    return Task(
        name="dclaw-turn",
        make_env=make_dclaw_turn_env,
        reward_fn=turn_reward,
        termination_fn=turn_termination,
        horizon=HORIZON,
        obs_dim=OBS_DIM,
        act_dim=ACT_DIM,
        act_low=np.full(ACT_DIM, -1.0),
        act_high=np.full(ACT_DIM, 1.0),
        success_fn=turn_success,
        score_fn=turn_final_error,
        score_name="final valve error (rad)",
        angle_dims=(TARGET_ERROR,),  # the world wraps it; the valve often sits near +-pi
        symmetry=MIRROR,
        description=(
            "ROBEL DClawTurnRandom-v0 (MuJoCo 4): turn a valve from U(-60, 60) deg to 180 +- 60 deg. "
            "Obs = ROBEL's 21-dim default + claw joint velocities (30); 40 steps of 0.1 s; "
            "success = |target error| < 0.1 rad at the last step."
        ),
    )
