"""Checking a `Task` against its env, so a wrong one fails when it is built, in one line that
names the field, instead of deep inside torch or gymnasium mid-run.

`validate_task` runs on every task `make` returns and every task a `Game` gets: the static
fields (dimensions, bounds, horizon, angle_dims), then one env built with `make_env(seed)` (a
Box action space of `act_dim`, an observation space of `obs_dim`, the same bounds) and
`reward_fn` / `termination_fn` on a sample batch of real transitions, in two batch shapes: one
value per transition, floating point for the reward, bool for termination. `check_task` goes
further and measures parity: the functions against what the env returned, step by step.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.errors import UserInputError, error_line
from stackelberg.tasks.base import Task


class TaskError(UserInputError):
    """A `Task` that does not fit its env (or itself): the message names the field."""


def _fail(task: Task, message: str) -> TaskError:
    return TaskError(f"task {task.name!r}: {message}")


def check_fields(task: Task) -> None:
    """The fields that need no env: sizes, bounds, horizon, angle_dims, make_env's signature."""
    for name in ("obs_dim", "act_dim", "horizon"):
        value = getattr(task, name)
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise _fail(task, f"{name} must be a positive int, got {value!r}")
    for name in ("act_low", "act_high"):
        value = np.asarray(getattr(task, name), dtype=float)
        if value.shape != (task.act_dim,):
            raise _fail(task, f"{name} must have shape ({task.act_dim},) (act_dim), got "
                              f"{value.shape}")
        if not np.all(np.isfinite(value)):
            raise _fail(task, f"{name} must be finite, got {value.tolist()}")
    if not np.all(np.asarray(task.act_low) < np.asarray(task.act_high)):
        raise _fail(task, "act_low must be below act_high in every coordinate")
    bad = [i for i in task.angle_dims if not 0 <= i < task.obs_dim]
    if bad:
        raise _fail(task, f"angle_dims {bad} are outside 0..{task.obs_dim - 1} (obs_dim)")
    if not callable(task.make_env):
        raise _fail(task, "make_env must be a function make_env(seed) -> gym.Env")
    try:
        inspect.signature(task.make_env).bind(0)
    except TypeError:
        raise _fail(task, "make_env must take the seed: make_env(seed) -> gym.Env "
                          "(e.g. lambda seed: gym.make(...))") from None
    except ValueError:  # a builtin without a signature: trust it
        pass


def _env_spaces(task: Task, env: gym.Env) -> None:
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise _fail(task, f"the env's action space is {type(space).__name__}; a policy player "
                          f"needs continuous actions (a gymnasium Box)")
    if space.shape != (task.act_dim,):
        raise _fail(task, f"act_dim is {task.act_dim} but the env's action space has shape "
                          f"{space.shape}")
    for name, env_value in (("act_low", space.low), ("act_high", space.high)):
        if not np.allclose(np.asarray(getattr(task, name), dtype=float), env_value, atol=1e-6):
            raise _fail(task, f"{name} {np.asarray(getattr(task, name)).tolist()} differs from "
                              f"the env's action space ({np.asarray(env_value).tolist()})")
    obs_space = env.observation_space
    shape = getattr(obs_space, "shape", None)
    if shape != (task.obs_dim,):
        raise _fail(task, f"obs_dim is {task.obs_dim} but the env's observation space has shape "
                          f"{shape}")


def _sample(task: Task, env: gym.Env, n: int, seed: int) -> dict[str, Any]:
    """`n` real transitions with uniform random actions (resetting at episode ends), with the
    env's own rewards and terminations."""
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    rows: dict[str, list] = {"obs": [], "act": [], "next_obs": [], "reward": [], "terminated": []}
    for _ in range(n):
        act = rng.uniform(task.act_low, task.act_high).astype(np.float32)
        next_obs, reward, terminated, truncated, _ = env.step(act)
        for key, value in zip(rows, (obs, act, next_obs, reward, terminated)):
            rows[key].append(np.asarray(value))
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
    if np.asarray(rows["obs"][0]).shape != (task.obs_dim,):
        raise _fail(task, f"obs_dim is {task.obs_dim} but the env returns observations of shape "
                          f"{np.asarray(rows['obs'][0]).shape}")
    return {k: torch.as_tensor(np.stack(v), dtype=torch.bool if k == "terminated" else torch.float32)
            for k, v in rows.items()}


def _check_outputs(task: Task, batch: dict[str, torch.Tensor]) -> None:
    """reward_fn and termination_fn give one value per transition, in any batch shape."""
    n = batch["obs"].shape[0]
    shapes = [(n,)] + ([(2, n // 2)] if n % 2 == 0 and n >= 2 else [])
    for shape in shapes:
        args = [batch[k].reshape(*shape, -1) for k in ("obs", "act", "next_obs")]
        for name, kind in (("reward_fn", "floating"), ("termination_fn", "bool")):
            try:
                out = getattr(task, name)(*args)
            except Exception as err:
                raise _fail(task, f"{name} fails on a batch of shape {tuple(args[0].shape)} "
                                  f"(obs, act, next_obs batched over leading dimensions): "
                                  f"{error_line(err)}") from None
            if not isinstance(out, torch.Tensor):
                raise _fail(task, f"{name} must return a torch.Tensor, got {type(out).__name__}")
            if tuple(out.shape) != shape:
                raise _fail(task, f"{name} must return one value per transition: shape {shape} "
                                  f"for inputs of shape {tuple(args[0].shape)}, got "
                                  f"{tuple(out.shape)}")
            if kind == "bool" and out.dtype != torch.bool:
                raise _fail(task, f"termination_fn must return a bool tensor, got {out.dtype}")
            if kind == "floating" and not out.is_floating_point():
                raise _fail(task, f"reward_fn must return a floating-point tensor, got {out.dtype}")


def validate_task(task: Task, samples: int = 8, seed: int = 0) -> None:
    """Raise `TaskError` (one line naming the field) unless `task` fits its env: see the module
    docstring. Each task object is checked once per process."""
    if getattr(task, "_validated", False):
        return
    check_fields(task)
    try:
        env = task.make_env(seed)
    except Exception as err:  # a user's task: its error is theirs to fix, in one line
        raise _fail(task, f"make_env({seed}) raised {error_line(err)}") \
            from None
    try:
        if not isinstance(env, gym.Env):
            raise _fail(task, f"make_env must return a gymnasium Env, got {type(env).__name__}")
        _env_spaces(task, env)
        _check_outputs(task, _sample(task, env, samples, seed))
    except TaskError:
        raise
    except Exception as err:
        raise _fail(task, f"stepping its env raised {error_line(err)}") \
            from None
    finally:
        env.close()
    object.__setattr__(task, "_validated", True)  # a frozen dataclass: a private mark only


@dataclass
class TaskCheck:
    """How closely a task's reward and termination functions match its env."""

    steps: int
    reward_max_error: float  # max |reward_fn - env reward| over the steps
    termination_mismatches: int  # steps where termination_fn and the env disagree

    @property
    def ok(self) -> bool:
        return self.reward_max_error <= 1e-4 and self.termination_mismatches == 0

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "MISMATCH"
        return (f"{verdict}: {self.steps} steps, reward max |error| {self.reward_max_error:.3g}, "
                f"termination mismatches {self.termination_mismatches}")


def check_task(task: Task, n: int = 1000, seed: int = 0) -> TaskCheck:
    """Validate `task`, then step its env `n` times with uniform random actions and compare
    `reward_fn` / `termination_fn` with what the env returned: a model's rollouts are scored by
    these functions, so any difference is a difference between J(pi, M) and J(pi, W)."""
    validate_task(task)
    env = task.make_env(seed)
    try:
        batch = _sample(task, env, n, seed)
    finally:
        env.close()
    with torch.no_grad():
        reward = task.reward_fn(batch["obs"], batch["act"], batch["next_obs"]).double()
        done = task.termination_fn(batch["obs"], batch["act"], batch["next_obs"])
    error = (reward - batch["reward"].double()).abs()
    return TaskCheck(steps=n, reward_max_error=float(error.max()) if n else 0.0,
                     termination_mismatches=int((done != batch["terminated"]).sum()))
