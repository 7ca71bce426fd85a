"""What DClaw and DKitty share: ROBEL's position control and a MuJoCo-driven gymnasium env.

ROBEL maps a normalized action to a joint-angle target inside each joint's *task* range (not the
actuator ctrlrange of the XML) and limits how far that target may lead the measured angle, which
caps the commanded joint speed. MuJoCo's position actuators then track the target for the 40
physics substeps of one 0.1 s control step.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple

import gymnasium as gym
import mujoco
import numpy as np
import torch

FRAME_SKIP = 40  # physics steps per env step: 40 x 0.0025 s = 0.1 s


def wrap_angle(x: np.ndarray | float) -> np.ndarray:
    """Wrap into [-pi, pi) the way ROBEL does: ((x + pi) mod 2pi) - pi."""
    return np.mod(np.asarray(x, dtype=np.float64) + np.pi, 2 * np.pi) - np.pi


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """sqrt with a finite gradient at 0 (plain sqrt gives inf there, and NaN after masking)."""
    positive = x > 0
    root = torch.sqrt(torch.where(positive, x, torch.ones_like(x)))
    return torch.where(positive, root, torch.zeros_like(x))


@dataclass(frozen=True)
class PositionGroup:
    """A group of position-controlled joints with ROBEL's action mapping and velocity limit."""

    qpos_idx: np.ndarray  # joint positions in data.qpos (== dof indices in data.qvel here)
    act_idx: np.ndarray  # the actuators driving them, same order
    low: np.ndarray  # task range of each joint
    high: np.ndarray
    vmax: float  # rad/s

    @classmethod
    def build(cls, model: mujoco.MjModel, joints: Sequence[str], ranges: Sequence[Tuple[float, float]],
              vmax: float) -> "PositionGroup":
        """Look joints and actuators up by name, so index layout errors fail loudly."""
        qpos_idx = np.array([model.jnt_qposadr[model.joint(j).id] for j in joints])
        dof_idx = np.array([model.jnt_dofadr[model.joint(j).id] for j in joints])
        if not np.array_equal(qpos_idx, dof_idx):
            raise ValueError("expected hinge/slide joints with qpos index == dof index")
        act_idx = np.array([model.actuator(j).id for j in joints])
        for a, q in zip(act_idx, qpos_idx):
            if model.jnt_qposadr[model.actuator_trnid[a, 0]] != q:
                raise ValueError(f"actuator {model.actuator(a).name} does not drive its namesake joint")
        rng = np.asarray(ranges, dtype=np.float64)
        return cls(qpos_idx, act_idx, rng[:, 0].copy(), rng[:, 1].copy(), float(vmax))

    def command(self, action: np.ndarray, qpos: np.ndarray, dt: float) -> np.ndarray:
        """Joint targets for a clipped action in [-1, 1], given the measured joint angles."""
        target = (self.low + self.high) / 2 + action * (self.high - self.low) / 2
        target = np.clip(target, self.low, self.high)
        return qpos + np.clip((target - qpos) / dt, -self.vmax, self.vmax) * dt

    def clip_qpos(self, qpos: np.ndarray) -> np.ndarray:
        """ROBEL clips reset states to the task ranges."""
        return np.clip(qpos, self.low, self.high)


class RobelEnv(gym.Env):
    """A ROBEL task simulated with `mujoco` directly: control, stepping, time limit, info.

    Subclasses implement `_reset_task` (write the randomized start state), `_observe` and
    `_evaluate` (reward terms, termination and success from the current state). The time limit
    lives here so that `make_env` can hand out a plain env that already truncates at the horizon.
    """

    metadata: Dict[str, Any] = {"render_modes": []}

    def __init__(self, model: mujoco.MjModel, group: PositionGroup, obs_dim: int, horizon: int):
        self.model = model
        self.data = mujoco.MjData(model)
        self.group = group
        self.horizon = horizon
        self.dt = float(model.opt.timestep) * FRAME_SKIP
        act_dim = len(group.act_idx)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=(act_dim,), dtype=np.float32)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float64)
        self.last_action = np.zeros(act_dim)
        self.elapsed_steps = 0

    # --- subclass hooks -------------------------------------------------------------------
    def _reset_task(self) -> Dict[str, Any]:
        raise NotImplementedError

    def _observe(self) -> np.ndarray:
        raise NotImplementedError

    def _evaluate(self) -> Tuple[Dict[str, float], bool, Dict[str, Any]]:
        """(reward terms, terminated, score info with at least "success")."""
        raise NotImplementedError

    # --- gymnasium API --------------------------------------------------------------------
    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Zero the simulation (ctrl too), then let the task write its randomized start state."""
        super().reset(seed=seed)
        mujoco.mj_resetData(self.model, self.data)
        self.last_action = np.zeros(len(self.group.act_idx))
        self.elapsed_steps = 0
        info = self._reset_task()
        mujoco.mj_forward(self.model, self.data)
        return self._observe(), info

    def step(self, action: np.ndarray):
        """One 0.1 s control step; the reward is the sum of the task's terms, listed in `info`."""
        action = np.asarray(action, dtype=np.float64).reshape(self.last_action.shape)
        action = np.clip(action, -1.0, 1.0)
        qpos = self.data.qpos[self.group.qpos_idx]
        self.data.ctrl[self.group.act_idx] = self.group.command(action, qpos, self.dt)
        mujoco.mj_step(self.model, self.data, nstep=FRAME_SKIP)
        self.last_action = action
        self.elapsed_steps += 1
        obs = self._observe()
        terms, terminated, score = self._evaluate()
        reward = float(sum(terms.values()))
        info = {f"reward/{k}": v for k, v in terms.items()}
        info.update(score)
        truncated = self.elapsed_steps >= self.horizon
        return obs, reward, bool(terminated), bool(truncated), info
