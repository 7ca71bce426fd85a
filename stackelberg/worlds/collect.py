"""Interaction with the real world (a gymnasium env): data collection and evaluation."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import gymnasium as gym
import numpy as np
import torch

from stackelberg.core.buffers import Trajectory
from stackelberg.tasks import Task

ActFn = Callable[[torch.Tensor], torch.Tensor]


def run_episode(env: gym.Env, act: ActFn, task: Task, seed: int | None = None) -> Trajectory:
    """One episode to termination or the time limit. The env gets the action clipped to its
    bounds; the trajectory stores the unclipped one, as model rollouts use it ([mjrl])."""
    obs, _ = env.reset(seed=seed)
    observations, actions, next_observations, rewards = [], [], [], []
    terminated = False
    for _ in range(task.horizon):
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        a = act(obs_t).cpu()
        clipped = np.clip(a.numpy().astype(np.float64), task.act_low, task.act_high)
        next_obs, reward, terminated, truncated, _ = env.step(clipped)
        observations.append(obs_t); actions.append(a)
        next_observations.append(torch.as_tensor(np.asarray(next_obs), dtype=torch.float32))
        rewards.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            break
    return Trajectory(obs=torch.stack(observations), act=torch.stack(actions),
                      next_obs=torch.stack(next_observations),
                      reward=torch.tensor(rewards, dtype=torch.float32), terminated=bool(terminated))


def collect(env: gym.Env, act: ActFn, task: Task, num_samples: int) -> list[Trajectory]:
    """Whole episodes until at least `num_samples` steps (overshoot at most one episode)."""
    trajectories, count = [], 0
    while count < num_samples:
        trajectories.append(run_episode(env, act, task))
        count += len(trajectories[-1])
    return trajectories


@dataclass
class Outcomes:
    """What the task's own success and score functions say about a set of episodes."""

    success_rate: float  # NaN when the task has no success function (or there are no episodes)
    score: float  # mean of the task's score_fn (NaN without one)


def judge_episodes(task: Task, trajs: list[Trajectory]) -> tuple[np.ndarray, np.ndarray]:
    """(success flags, scores), one per whole episode, each judged on its (T + 1, obs_dim)
    observations; NaN where the task has no such function."""
    episode_obs = [torch.cat([t.obs, t.next_obs[-1:]]) for t in trajs]
    judge = lambda fn: np.array([float(fn(obs)) if fn is not None else np.nan for obs in episode_obs])
    return judge(task.success_fn), judge(task.score_fn)


def outcomes(task: Task, trajs: list[Trajectory]) -> Outcomes:
    """Success rate and mean score of whole episodes (NaN without the function or episodes)."""
    if not trajs:
        return Outcomes(success_rate=float("nan"), score=float("nan"))
    success, score = judge_episodes(task, trajs)
    return Outcomes(success_rate=float(success.mean()), score=float(score.mean()))


@dataclass
class Evaluation:
    mean_return: float
    success_rate: float  # NaN when the task has no success function
    start_states: torch.Tensor  # (episodes, obs_dim): lets the model predict the same episodes
    returns: list[float]
    score: float = float("nan")  # mean of the task's score_fn (NaN without one)


def evaluate(env: gym.Env, act: ActFn, task: Task, episodes: int) -> Evaluation:
    trajs = [run_episode(env, act, task) for _ in range(episodes)]
    returns = [t.reward.sum().item() for t in trajs]
    judged = outcomes(task, trajs)
    return Evaluation(mean_return=float(np.mean(returns)) if returns else float("nan"),
                      success_rate=judged.success_rate,
                      start_states=torch.stack([t.obs[0] for t in trajs]) if trajs else torch.empty(0),
                      returns=returns, score=judged.score)
