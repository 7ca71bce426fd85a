"""The game loop: one loop for every schedule. Each iteration the world is sampled with the
current policy, and the two players move in the order and by the amounts the schedule says.
Perturbations (`stackelberg.worlds.perturbations`) change the world before the collection they are
due at."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterator, Optional, Sequence

import gymnasium as gym
import torch

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer, Trajectory
from stackelberg.core.knobs import check_settings
from stackelberg.core.errors import NonFiniteError, UserInputError
from stackelberg.worlds.perturbations import Perturbation, PerturbationPlan
from stackelberg.core.protocols import FitReport, ModelPlayer, PolicyPlayer
from stackelberg.core.model_env import model_rollouts
from stackelberg.core.schedules import Schedule
from stackelberg.worlds import collect as world
from stackelberg.tasks import Task, validate_task
from stackelberg.tasks.switching import load_world_state, world_state


#: with no fit step (`model_epochs = 0`) the Game measures the model on this many latest transitions
MEASURED_TRANSITIONS = 5000


@dataclass
class IterationReport:
    """What one iteration of `Game.play` measured: one row of a run's metrics.csv (`row()`)."""

    iteration: int
    samples: int  # real environment steps so far
    eval_return: float  # J(pi, W): mean return of deterministic evaluation episodes
    eval_success: float  # success rate of those episodes (NaN without a success function)
    eval_score: float  # mean of the task's score_fn over those episodes (NaN without one)
    model_return: float  # J(pi, M): the model's prediction of the same episodes
    model_loss_fresh: float  # the model player's payoff on this iteration's new data, before fitting
    model_train_loss: float
    policy_kl: float  # KL(pi_old || pi_new) of the last NPG step
    train_return: float  # mean return of the data-collection episodes
    fit_steps: int
    improve_steps: int
    buffer_size: int
    collect_seconds: float
    fit_seconds: float
    improve_seconds: float
    eval_seconds: float
    seconds: float  # wall-clock of the whole iteration
    # perturbations that changed the world before this iteration's collection ("; "-separated)
    perturbation: str = ""
    # the task's success rate and score on the data-collection episodes (exploring policy)
    train_success: float = float("nan")
    train_score: float = float("nan")
    # the fitted model's loss on the transitions its fit held out (NaN when it held none out)
    model_holdout_loss: float = float("nan")
    policy_extras: dict = field(default_factory=dict)  # player-specific numbers (e.g. log_std)

    def row(self) -> dict:
        row = asdict(self)
        extras = row.pop("policy_extras")
        row.update({f"policy_{k}": v for k, v in sorted(extras.items())})
        return row


def refuse_hidden_reward(task: Task, policy: PolicyPlayer) -> None:
    """A policy player that scores model rollouts with `task.reward_fn` (it says so with
    `reads_task_reward = True`) cannot learn where the reward is hidden (`learned_reward`):
    refused before any data is collected."""
    if task.learned_reward and getattr(policy, "reads_task_reward", False):
        raise UserInputError(
            f"task {task.name!r} hides its reward (it depends on a hidden task), and the "
            f"{type(policy).__name__} scores its model rollouts with the task's reward function; "
            f"use a player that learns the reward (--policy m3po on a history task, or "
            f"--set mbpo.learned_reward=true)")


class Game:
    """A Stackelberg game between a policy player and a model player in a task's world.

    `play(total_samples)` yields one `IterationReport` per iteration. The game owns the real
    data (replay buffer with the schedule's capacity, and the initial-state buffer).
    """

    def __init__(self, task: Task, policy: PolicyPlayer, model: ModelPlayer, schedule: Schedule,
                 seed: int = 0, eval_episodes: int = 5, device: str | torch.device = "cpu",
                 on_collect: Optional[Callable[[int, list[Trajectory]], None]] = None,
                 perturbations: Sequence[Perturbation | str] = ()):
        """`on_collect(iteration, trajectories)` runs as soon as real data arrives, before either
        player moves, so a recorder can persist every sample even if training then fails.
        `perturbations` (or their text, `dynamics@10000`) each fire once, on the training and
        the evaluation env, before the first collection that starts with at least `at_samples`
        samples; they are checked against the task here, so a bad one fails before training."""
        check_settings("schedule", schedule)
        validate_task(task)  # a Task that does not fit its env fails here, naming the field
        refuse_hidden_reward(task, policy)
        self.perturbations = PerturbationPlan(task, perturbations)
        self.on_collect = on_collect
        self.device = torch.device(device)
        self.task, self.policy, self.model, self.schedule = task, policy, model, schedule
        self.eval_episodes = eval_episodes
        self.replay = ReplayBuffer(schedule.buffer_capacity)
        self.initial_states = InitialStateBuffer()
        self.seed = seed
        self.env, self.eval_env = self._make_envs()
        self.iteration = 0
        self.samples = 0
        self.model_fitted = False
        self._attach()

    def _attach(self) -> None:
        """Tell a policy player that keeps a link to the model (a planner) which model to use:
        its optional `attach(model)` hook, called here and after every `load_state_dict`."""
        attach = getattr(self.policy, "attach", None)
        if callable(attach):
            attach(self.model)

    def _make_envs(self) -> tuple[gym.Env, gym.Env]:
        env, eval_env = self.task.make_env(self.seed), self.task.make_env(self.seed + 10_000)
        # seed here too, so a user's make_env need not; later resets continue these streams
        env.reset(seed=self.seed)
        eval_env.reset(seed=self.seed + 10_000)
        return env, eval_env

    # --- the players' moves ---------------------------------------------------------------
    def _act(self, deterministic: bool):
        return lambda obs: self.policy.act(obs, deterministic=deterministic)

    def _fit(self) -> FitReport:
        """The model's turn, stopped here if its loss is not finite (every model player gets the
        check, before a policy is improved on a broken model); with `model_epochs = 0` no step,
        only the model's loss on the latest `MEASURED_TRANSITIONS` real transitions (its payoff,
        as `train_loss`)."""
        s = self.schedule
        if s.model_epochs > 0:
            fitted = self.model.fit(self.replay, s.model_epochs, s.model_min_steps, s.model_max_steps)
        elif not self.has_model:
            return FitReport(steps=0, train_loss=float("nan"))
        else:
            data = {k: v[-MEASURED_TRANSITIONS:].to(self.device)
                    for k, v in self.replay.tensors().items()}
            loss = self.model.loss(data["obs"], data["act"], data["next_obs"]).mean().item()
            fitted = FitReport(steps=0, train_loss=loss)
        if self.has_model and not math.isfinite(fitted.train_loss):
            raise NonFiniteError(f"the model player's training loss is not finite after its fit in "
                                 f"iteration {self.iteration}; lower its learning rate or check "
                                 f"the observations for NaN/inf")
        return fitted

    def _improve(self):
        return self.policy.improve(self.model, self.replay, self.initial_states, self.schedule.policy_steps)

    @property
    def has_model(self) -> bool:
        """False for a model-free game (a model player with no members, e.g. `NoModel`)."""
        return self.model.ensemble_size > 0

    def _fresh_loss(self, trajectories: list[Trajectory]) -> float:
        if not self.model_fitted or not self.has_model:
            return float("nan")
        obs = torch.cat([t.obs for t in trajectories])
        act = torch.cat([t.act for t in trajectories])
        nxt = torch.cat([t.next_obs for t in trajectories])
        d = self.device
        return self.model.loss(obs.to(d), act.to(d), nxt.to(d)).mean().item()

    def predicted_return(self, start_states: torch.Tensor) -> float:
        """J(pi, M): deterministic policy rolled out in every member from the given start
        states over the task horizon; the mean over members and starts."""
        if start_states.numel() == 0 or not self.model_fitted or not self.has_model \
                or self.task.learned_reward:  # a hidden reward: task.reward_fn is NaN
            return float("nan")
        paths = model_rollouts(self.model.step, self._act(True), self.task, start_states.to(self.device),
                               self.model.ensemble_size, self.task.horizon, None)
        return paths.returns().mean().item()

    # --- the loop -------------------------------------------------------------------------
    def step(self) -> IterationReport:
        """One iteration of the game."""
        t0 = time.perf_counter()
        fired = self.perturbations.fire(self.samples, (self.env, self.eval_env))
        s = self.schedule
        wanted = s.initial_samples if self.iteration == 0 else s.samples_for(self.task.horizon)
        trajectories = world.collect(self.env, self._act(False), self.task, wanted)
        if self.on_collect is not None:
            self.on_collect(self.iteration, trajectories)
        fresh_loss = self._fresh_loss(trajectories)
        for traj in trajectories:
            self.replay.add(traj)
            self.initial_states.add(traj.obs[0])
        self.samples += sum(len(t) for t in trajectories)
        t1 = time.perf_counter()

        # Simultaneous schedules improve the policy on M_k, the model from before this data.
        # In iteration 0 there is no M_0 yet, so every schedule fits first.
        policy_first = s.simultaneous and self.model_fitted
        if policy_first:
            improved = self._improve(); t2 = time.perf_counter()
            fitted = self._fit(); t3 = time.perf_counter()
            fit_seconds, improve_seconds = t3 - t2, t2 - t1
        else:
            fitted = self._fit(); t2 = time.perf_counter()
            improved = self._improve(); t3 = time.perf_counter()
            fit_seconds, improve_seconds = t2 - t1, t3 - t2
        self.model_fitted = True

        evaluation = world.evaluate(self.eval_env, self._act(True), self.task, self.eval_episodes)
        collected = world.outcomes(self.task, trajectories)
        model_return = self.predicted_return(evaluation.start_states)
        t4 = time.perf_counter()
        report = IterationReport(
            iteration=self.iteration, samples=self.samples,
            eval_return=evaluation.mean_return, eval_success=evaluation.success_rate,
            eval_score=evaluation.score,
            model_return=model_return, model_loss_fresh=fresh_loss,
            model_train_loss=fitted.train_loss, model_holdout_loss=fitted.holdout_loss,
            policy_kl=improved.kl,
            train_return=sum(t.reward.sum().item() for t in trajectories) / len(trajectories),
            fit_steps=fitted.steps, improve_steps=improved.steps, buffer_size=len(self.replay),
            collect_seconds=t1 - t0, fit_seconds=fit_seconds, improve_seconds=improve_seconds,
            eval_seconds=t4 - t3, seconds=t4 - t0,
            perturbation="; ".join(p.to_text() for p in fired),
            train_success=collected.success_rate, train_score=collected.score,
            policy_extras=dict(improved.extras))
        self.iteration += 1
        return report

    def play(self, total_samples: int) -> Iterator[IterationReport]:
        """Iterate until `total_samples` real environment steps have been collected. Every
        iteration collects the schedule's full amount, so a shorter run is an exact prefix of a
        longer one with the same seed."""
        while self.samples < total_samples:
            yield self.step()

    # --- state ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"policy": self.policy.state_dict(), "model": self.model.state_dict(),
                "replay": self.replay.state_dict(), "initial_states": self.initial_states.state_dict(),
                "iteration": self.iteration, "samples": self.samples,
                "model_fitted": self.model_fitted, "torch_rng": torch.get_rng_state(),
                "env_rng": self.env.unwrapped.np_random.bit_generator.state,
                "eval_env_rng": self.eval_env.unwrapped.np_random.bit_generator.state,
                # a world with a hidden task that switches: the task and the switch clock
                "env_world": world_state(self.env), "eval_env_world": world_state(self.eval_env),
                "perturbations_fired": self.perturbations.fired_texts()}

    def load_state_dict(self, state: dict) -> None:
        """Continue from `state_dict()`. The worlds are rebuilt as they were: perturbations that
        had fired are applied again to fresh envs (and will not fire a second time)."""
        self.policy.load_state_dict(state["policy"])
        self.model.load_state_dict(state["model"])
        self._attach()
        self.replay.load_state_dict(state["replay"])
        self.initial_states.load_state_dict(state["initial_states"])
        self.iteration, self.samples = int(state["iteration"]), int(state["samples"])
        self.model_fitted = bool(state["model_fitted"])
        torch.set_rng_state(state["torch_rng"])
        fired = list(state.get("perturbations_fired", []))
        if fired or self.perturbations.fired:
            if self.perturbations.fired:  # this game already changed its envs: start afresh
                self.env.close(); self.eval_env.close()
                self.env, self.eval_env = self._make_envs()
                self.perturbations = PerturbationPlan(self.task, self.perturbations.fired
                                                      + self.perturbations.pending)
            self.perturbations.restore(fired, (self.env, self.eval_env))
        self.env.unwrapped.np_random.bit_generator.state = state["env_rng"]
        self.eval_env.unwrapped.np_random.bit_generator.state = state["eval_env_rng"]
        load_world_state(self.env, state.get("env_world"))
        load_world_state(self.eval_env, state.get("eval_env_world"))
