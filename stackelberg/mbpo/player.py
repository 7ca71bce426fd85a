"""MBPO's policy player (Janner et al. 2019, Algorithm 2 with the official code's settings):
SAC trained mostly on short model rollouts branched from real states.

Each `improve` call does what MBPO does once per model fit (every 250 real steps):
1. set the rollout length k from the epoch (MBPO's thresholded linear schedule) and resize the
   model buffer to `retain_epochs` epochs' worth of rollouts at that k;
2. branch `rollouts_per_env_step` x (new real steps) rollouts of length k from real states drawn
   uniformly from the replay buffer, a random elite per transition (`model.sample`), stopping
   those the task's termination function ends; every transition, terminal ones included, goes
   to the model buffer;
3. run G x (new real steps) SAC updates on batches of `real_ratio` real + the rest model data.
MBPO interleaves step 3 with the environment steps; in the Game the policy collects a whole
iteration's data with the policy of the previous call (the same update count, in one block).

The "new real steps" clock is `ReplayBuffer.total_added`, so the Game needs no changes. The
first call's data is MBPO's initial exploration (uniform random actions, see `act`): it seeds
the model and the first rollouts but earns no SAC updates, and neither does any step taken
before the replay buffer reached `min_pool_size` (as in the official code). The k schedule's
epoch counts from that first call, as the official epoch counter starts after exploration.

Rewards of synthetic transitions come from the task's exact `reward_fn` by default; with
`learned_reward=True` they come from the model's reward head, as in MBPO (whose tasks have no
reward function in the loop). The exact reward isolates what this library studies: the
dynamics model. Terminations always use the task's function (as MBPO's oracle does).
"""
from __future__ import annotations

import math
from typing import Optional

import torch

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.core.knobs import check_settings
from stackelberg.core.model_env import ModelEnv, branched_rollouts, sampled_member
from stackelberg.core.errors import NonFiniteError, UserInputError
from stackelberg.mbpo.actions import BoxActions
from stackelberg.mbpo.config import MBPO_TASK_DEFAULTS, MBPOConfig, SACConfig, mbpo_config_for
from stackelberg.models.config import ProbabilisticModelConfig
from stackelberg.mbpo.model_buffer import TransitionRing
from stackelberg.core.protocols import ImproveReport, ModelPlayer
from stackelberg.models.probabilistic import ProbabilisticEnsemble
from stackelberg.mbpo.sac import SAC, gaussian_kl
from stackelberg.core.registry import PlayerContext
from stackelberg.mbpo.model_free import sac_only_config
from stackelberg.tasks import Task

__all__ = ["MBPOPolicyPlayer", "MBPOConfig", "MBPO_TASK_DEFAULTS", "mbpo_config_for",
           "rollout_length", "build_mbpo_players"]

EXTRAS = ("alpha", "q_loss", "actor_loss", "entropy", "rollout_length", "model_buffer_size",
          "mean_rollout_steps", "epoch")


def rollout_length(schedule: tuple[int, ...] | list[int], epoch: int) -> int:
    """MBPO's k(epoch) for schedule [a, b, x, y]: x until epoch a, then linear to y at epoch b,
    then y; truncated to int (the official `_set_rollout_length`)."""
    a, b, x, y = schedule
    if epoch <= a:
        return int(x)
    frac = min((epoch - a) / (b - a), 1.0)
    return int(x + frac * (y - x))


class MBPOPolicyPlayer:
    """Policy player: SAC on branched model rollouts. Works with any model player; with one
    that has no `sample` (e.g. the deterministic `DynamicsEnsemble`), each synthetic transition
    uses a random member's `step` prediction instead of a random elite's Gaussian sample."""

    def __init__(self, task: Task, config: Optional[MBPOConfig] = None,
                 device: str | torch.device = "cpu", seed: int = 0):
        self.task = task
        self.config = config or mbpo_config_for(task.name)
        check_settings("mbpo", self.config)
        cfg = self.config
        self.device = torch.device(device)
        self.sac = SAC(task.obs_dim, task.act_dim, cfg.hidden_sizes, cfg.lr, cfg.gamma, cfg.tau,
                       cfg.target_entropy, cfg.init_log_alpha, cfg.log_std_min, cfg.log_std_max,
                       self.device, seed)
        self.actions = BoxActions(task, self.device)
        self.model_buffer = TransitionRing(task.obs_dim, task.act_dim, 0, self.device)
        self.generator = torch.Generator().manual_seed(seed + 11)  # start states, batches, members
        self.noise = torch.Generator(device=self.device).manual_seed(seed + 12)  # acting
        self.env_steps_seen = 0  # replay.total_added at the previous improve call
        self.epoch_origin = 0  # replay.total_added at the first improve call
        self.improve_calls = 0

    # --- acting ----------------------------------------------------------------------------
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """deterministic: tanh(mean) scaled to the action bounds; otherwise a sample from the
        squashed Gaussian, or, before the first improve call (with `uniform_initial_actions`),
        a uniform random action as in MBPO's initial exploration."""
        uniform = self.config.uniform_initial_actions and self.improve_calls == 0
        return self.actions.act(self.sac.actor, obs, self.noise, deterministic, uniform)

    # --- data ------------------------------------------------------------------------------
    def mixed_batch(self, real: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """int(batch * real_ratio) real transitions + the rest from the model buffer (all real
        while the model buffer is empty), as the official `_training_batch`."""
        cfg = self.config
        n_real = int(cfg.batch_size * self.real_ratio()) if len(self.model_buffer) else cfg.batch_size
        idx = torch.randint(0, real["obs"].shape[0], (n_real,), generator=self.generator).to(self.device)
        parts = {k: v[idx] for k, v in real.items()}
        if n_real == cfg.batch_size:
            return parts
        synthetic = self.model_buffer.sample(cfg.batch_size - n_real, self.generator)
        return {k: torch.cat([parts[k], synthetic[k]]) for k in parts}

    def real_ratio(self) -> float:
        """The real share of the next SAC batches (a subclass may schedule it)."""
        return self.config.real_ratio

    @property
    def reads_task_reward(self) -> bool:
        """Whether its model rollouts are scored by `task.reward_fn` (the Game refuses that on a
        task whose reward is hidden)."""
        return not self.config.learned_reward and self.config.rollouts_per_env_step > 0

    def branched_rollouts(self, model: ModelPlayer, replay: ReplayBuffer, n: int, k: int
                          ) -> tuple[float, float]:
        """`n` rollouts of up to `k` steps from uniformly drawn real states, into the model
        buffer. Returns (mean return, mean length) of the rollouts. Non-finite predictions are
        dropped and end their rollout."""
        if self.config.learned_reward and not hasattr(model, "sample"):
            raise UserInputError("mbpo.learned_reward = true needs a model player with a reward "
                                 "head (ProbabilisticEnsemble); set it false to use the task's")
        env = ModelEnv(self.task, sampled_member(model, self.generator), self.config.learned_reward,
                       self.device)
        policy = lambda obs: self.sac.actor.act(obs, self.noise)
        starts = replay.sample_states(n, self.generator).to(self.device)
        total_return, total_steps = 0.0, 0
        for chunk in starts.split(self.config.rollout_chunk):
            returns = torch.zeros(chunk.shape[0], device=self.device)
            for step in branched_rollouts(env, policy, chunk, k, self.actions.to_env):
                self.model_buffer.add(step.obs, step.act, step.reward, step.next_obs, step.done)
                returns[step.rows] += step.reward
                total_steps += step.rows.shape[0]
            total_return += returns.sum().item()
        return total_return / max(n, 1), total_steps / max(n, 1)

    # --- the move --------------------------------------------------------------------------
    def epoch(self, total_env_steps: int) -> int:
        return max(total_env_steps - self.epoch_origin, 0) // self.config.epoch_length

    def improve(self, model: ModelPlayer, replay: ReplayBuffer, initial_states: InitialStateBuffer,
                steps: int) -> ImproveReport:
        """Rollouts and SAC updates for the real steps added since the last call (see the module
        docstring). `steps` (the schedule's policy steps) and `initial_states` are not used: the
        data clock sets the work, and MBPO branches from every visited state."""
        cfg = self.config
        total = replay.total_added
        new_steps = max(total - self.env_steps_seen, 0)
        first = self.improve_calls == 0
        if first:
            self.epoch_origin = total
        epoch = self.epoch(total)
        k = rollout_length(cfg.rollout_schedule, epoch)
        capacity = cfg.retain_epochs * k * cfg.rollouts_per_env_step * cfg.epoch_length
        self.model_buffer.resize(capacity)
        # more start states than the buffer can hold would be overwritten unused
        n_rollouts = min(cfg.rollouts_per_env_step * new_steps, capacity // k)
        model_return, mean_steps = float("nan"), float("nan")
        if n_rollouts > 0 and len(replay) > 0:
            model_return, mean_steps = self.branched_rollouts(model, replay, n_rollouts, k)
            if not math.isfinite(model_return):
                raise NonFiniteError("MBPO's model rollouts produced a non-finite return: the "
                                     "task's reward function returned NaN/inf")
        trained_steps = 0 if first else max(0, total - max(self.env_steps_seen, cfg.min_pool_size))
        updates = cfg.updates_per_step * trained_steps
        stats = self._train(replay, updates)
        self.env_steps_seen = total
        self.improve_calls += 1
        extras = {**stats, "rollout_length": float(k), "model_buffer_size": float(len(self.model_buffer)),
                  "mean_rollout_steps": mean_steps, "epoch": float(epoch)}
        kl = extras.pop("kl")
        return ImproveReport(steps=updates, kl=kl, model_return=model_return,
                             extras={key: extras[key] for key in EXTRAS})

    def _train(self, replay: ReplayBuffer, updates: int) -> dict[str, float]:
        """`updates` SAC steps; the mean of each loss over them (NaN if none) and the KL between
        the actor before and after on real states (the same in the squashed space: tanh is a
        bijection)."""
        nan = float("nan")
        if updates == 0 or len(replay) == 0:
            return {"kl": 0.0, "alpha": self.sac.alpha.item(), "q_loss": nan, "actor_loss": nan,
                    "entropy": nan}
        real = self.actions.real_data(replay)
        probe = real["obs"][:1000]
        with torch.no_grad():
            old_mean, old_log_std = self.sac.actor(probe)
        sums: dict[str, torch.Tensor] = {}
        for _ in range(updates):
            batch = self.mixed_batch(real)
            info = self.sac.update(batch["obs"], batch["act"], batch["reward"], batch["next_obs"],
                                   batch["done"])
            for key in ("q_loss", "actor_loss", "entropy"):
                sums[key] = sums.get(key, 0.0) + info[key]
        out = {key: (value / updates).item() for key, value in sums.items()}
        if not all(math.isfinite(v) for v in out.values()):
            raise NonFiniteError(f"SAC diverged (losses {out}); lower mbpo.lr or check the rewards")
        with torch.no_grad():
            mean, log_std = self.sac.actor(probe)
            kl = gaussian_kl(old_mean, old_log_std, mean, log_std).mean().item()
        return {"kl": kl, "alpha": self.sac.alpha.item(), **out}

    # --- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and plain types only (torch.load(weights_only=True) reads it back)."""
        return self._state(with_model_buffer=self.config.save_model_buffer)

    def acting_state_dict(self) -> dict:
        """What policy_best.pt and snapshots keep: the state without the synthetic rollouts
        (44 MB on Hopper at k = 1, and they only matter to the next SAC update). It loads
        like a `save_model_buffer = false` checkpoint and acts identically."""
        return self._state(with_model_buffer=False)

    def _state(self, with_model_buffer: bool) -> dict:
        buffer = self.model_buffer.state_dict() if with_model_buffer else \
            TransitionRing(self.task.obs_dim, self.task.act_dim, 0).state_dict()
        return {"sac": self.sac.state_dict(), "model_buffer": buffer,
                "model_buffer_capacity": self.model_buffer.capacity,
                "generator": self.generator.get_state(), "noise": self.noise.get_state(),
                "env_steps_seen": self.env_steps_seen, "epoch_origin": self.epoch_origin,
                "improve_calls": self.improve_calls}

    def load_state_dict(self, state: dict) -> None:
        self.sac.load_state_dict(state["sac"])
        self.model_buffer.load_state_dict(state["model_buffer"])
        self.model_buffer.resize(int(state["model_buffer_capacity"]))
        self.generator.set_state(state["generator"])
        self.noise.set_state(state["noise"])
        self.env_steps_seen = int(state["env_steps_seen"])
        self.epoch_origin = int(state["epoch_origin"])
        self.improve_calls = int(state["improve_calls"])
        self.actions.forget()


def build_mbpo_players(task: Task, mbpo_config: Optional[MBPOConfig] = None,
                       model_config: Optional[ProbabilisticModelConfig] = None,
                       device: str | torch.device = "cpu", seed: int = 0
                       ) -> tuple[MBPOPolicyPlayer, ProbabilisticEnsemble]:
    """MBPO's two players for `task` (the task's official settings unless a config is given)."""
    policy = MBPOPolicyPlayer(task, mbpo_config or mbpo_config_for(task.name), device, seed)
    model = ProbabilisticEnsemble(task.obs_dim, task.act_dim, model_config, device, seed)
    return policy, model


def mbpo_player(settings: MBPOConfig, context: PlayerContext) -> MBPOPolicyPlayer:
    """`run.policy = "mbpo"`: SAC on branched model rollouts, from `[mbpo]`."""
    return MBPOPolicyPlayer(context.task, settings, context.device, context.seed)


def sac_player(settings: SACConfig, context: PlayerContext) -> MBPOPolicyPlayer:
    """`run.policy = "sac"`: model-free SAC from `[sac]`, trained on real data only."""
    return MBPOPolicyPlayer(context.task, sac_only_config(settings), context.device, context.seed)
