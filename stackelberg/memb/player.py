"""MEMB's policy player (Tan, Qu, Xiong, Zhang, *Model Embedding Model-Based Reinforcement
Learning*, Algorithm 1 as the authors' code runs it): SAC-v1-style actor-critic whose actor
objective goes through a learned model.

Each actor-critic update, on one minibatch of real transitions (s, a, r, s', d):
1. actor: maximise r^(s, a~) - alpha log pi(a~|s) + gamma (1 - d) V(f(s, a~)), a~ ~ pi(.|s),
   with a~, the model's draw of (s', r^) and V all reparameterised (eq. 9), so the gradient
   flows through the learned reward, the learned dynamics and V; only the actor moves. `d` is
   the real transition's termination (the code's choice; `actor_done = "task"` reads the task's
   termination function on the model's draw instead). With `policy_objective = "q"` the
   objective is SAC-v1's min_j Q_j(s, a~) - alpha log pi(a~|s) instead (no model);
2. values, one Adam step for Q1, Q2 and V on real data only:
   Q_j(s, a) -> r + gamma (1 - d) Vbar(s')                          (eq. 6)
   V(s)      -> min_j Q_j(s, a~) - alpha log pi(a~|s), a~ ~ pi(.|s)   (eq. 5, the code's min);
   with `value_expansion_h = H > 1` both targets first take H - 1 imagined steps through the
   model (Feinberg et al. 2018's value expansion, App. B.1's ablation);
3. Vbar <- tau V + (1 - tau) Vbar.
The temperature alpha is fixed. The losses are means over the batch (the code's TF minimises the
actor's per-sample objective summed, which under Adam is nearly the same step).

The model moves here too (`model_steps_per_step = k > 0`): per real step, k Adam steps of the
model player's own loss (`train_step`), min(k, m) of them each on the batch of one of the first
updates just before it (the code chains them so) and the rest on fresh batches after the m
updates; a step taken before `ac_start_samples` takes one model step and no update (the code's
model-only warm-up). With k = 0 the model is instead fitted to holdout early stopping on all the
data before each block (MBPO's fit). The model sees real transitions only, as Q and V do; the
schedule's own fit takes no step in MEMB's run defaults.

The work follows the data clock (`ReplayBuffer.total_added`), as MBPO's player does: the steps
added since the last `improve` call are worked off in one block, oldest first; the first call's
data was collected with uniform random actions (the code's start_steps).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import nn

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.core.errors import NonFiniteError, UserInputError
from stackelberg.core.knobs import check_settings
from stackelberg.core.networks import mlp
from stackelberg.core.protocols import ImproveReport, ModelPlayer
from stackelberg.core.registry import PlayerContext
from stackelberg.mbpo.actions import BoxActions
from stackelberg.mbpo.sac import TanhGaussianActor, TwinQ, gaussian_kl
from stackelberg.mbpo.config import EARLY_STOPPED_FIT
from stackelberg.memb.config import MEMBConfig, memb_config_for
from stackelberg.core.networks import seeded
from stackelberg.tasks import Task


__all__ = ["MEMBPolicyPlayer", "ValueNet", "memb_player"]

EXTRAS = ("q_loss", "v_loss", "actor_objective", "entropy", "model_reward")
MODEL_EXTRAS = ("model_steps", "model_loss")  # the player's model steps and their mean loss

Batch = dict[str, torch.Tensor]


class ValueNet(nn.Module):
    """V(s): an MLP with one output, (..., obs_dim) -> (...)."""

    def __init__(self, obs_dim: int, hidden_sizes: tuple[int, ...]):
        super().__init__()
        self.net = mlp(obs_dim, 1, hidden_sizes)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs).squeeze(-1)


class MEMBPolicyPlayer:
    """Policy player: MEMB's actor-critic (see the module docstring). The model player must offer
    `rsample(obs, act, generator) -> (next_obs, reward)`, a differentiable draw (the
    probabilistic ensemble does), unless no objective uses the model (`policy_objective = "q"`
    and `value_expansion_h = 1`)."""

    def __init__(self, task: Task, config: Optional[MEMBConfig] = None,
                 device: str | torch.device = "cpu", seed: int = 0):
        self.task = task
        self.config = config or memb_config_for(task.name)
        check_settings("memb", self.config)
        cfg = self.config
        self.device = torch.device(device)
        with seeded(seed):
            self.actor = TanhGaussianActor(task.obs_dim, task.act_dim, cfg.hidden_sizes,
                                           cfg.log_std_min, cfg.log_std_max)
            self.q = TwinQ(task.obs_dim, task.act_dim, cfg.hidden_sizes)
            self.v = ValueNet(task.obs_dim, cfg.hidden_sizes)
            self.v_target = ValueNet(task.obs_dim, cfg.hidden_sizes)
        self.v_target.load_state_dict(self.v.state_dict())
        self.v_target.requires_grad_(False)
        self.nets = nn.ModuleDict(dict(actor=self.actor, q=self.q, v=self.v, v_target=self.v_target))
        self.nets.to(self.device)
        self.pi_optimizer = torch.optim.Adam(self.actor.parameters(), lr=cfg.pi_lr)
        self.value_optimizer = torch.optim.Adam([*self.q.parameters(), *self.v.parameters()],
                                                lr=cfg.value_lr)
        self.actions = BoxActions(task, self.device)
        self.generator = torch.Generator().manual_seed(seed + 11)  # batches and the model's draws
        self.noise = torch.Generator(device=self.device).manual_seed(seed + 12)  # acting
        self.update_noise = torch.Generator(device=self.device).manual_seed(seed + 13)  # pi's draws
        self.env_steps_seen = 0  # replay.total_added at the previous improve call
        self.improve_calls = 0

    # --- acting ----------------------------------------------------------------------------
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        """deterministic: tanh(mean) scaled to the action bounds; otherwise a squashed-Gaussian
        draw, or a uniform random action before the first improve call."""
        return self.actions.act(self.actor, obs, self.noise, deterministic, self.improve_calls == 0)

    # --- the model -------------------------------------------------------------------------
    def attach(self, model: ModelPlayer) -> None:
        """Check once the game is built that the model can be differentiated through."""
        self._check_model(model)

    def _check_model(self, model: ModelPlayer) -> None:
        if self.config.uses_model and not callable(getattr(model, "rsample", None)):
            raise UserInputError(
                f"memb differentiates through the model, and the model player "
                f"({type(model).__name__}) has no rsample: use run.model_player = \"probabilistic\" "
                f"(or memb.policy_objective = \"q\" with memb.value_expansion_h = 1: no model)")
        if self.config.model_steps_per_step > 0 and not callable(getattr(model, "train_step", None)):
            raise UserInputError(
                f"memb.model_steps_per_step = {self.config.model_steps_per_step} steps the model "
                f"as it goes, and the model player ({type(model).__name__}) has no train_step: "
                f"use run.model_player = \"probabilistic\", or memb.model_steps_per_step = 0 "
                f"(an early-stopped fit per block)")

    @property
    def reads_task_reward(self) -> bool:
        """Whether the model's draws are scored by `task.reward_fn` (the Game refuses that on a
        world whose reward is hidden)."""
        return self.config.reward_source == "task" and self.config.uses_model

    def model_step(self, model: ModelPlayer, obs: torch.Tensor, act: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """A differentiable draw of (next_obs, reward) for actor-unit actions `act`; the reward
        from the model's head or, with `reward_source = "task"`, the task's reward_fn."""
        act_env = self.actions.to_env(act)
        next_obs, reward = model.rsample(obs, act_env, self.generator)  # type: ignore[attr-defined]
        if self.config.reward_source == "task":
            reward = self.task.reward_fn(obs, act_env, next_obs)
        return next_obs, reward

    # --- objectives ------------------------------------------------------------------------
    def actor_objective(self, model: ModelPlayer, obs: torch.Tensor, done: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-state objective the actor maximises, its log pi(a~|s) and the model's reward
        (NaN for the Q objective)."""
        cfg = self.config
        act, logp = self.actor.rsample(obs, self.update_noise)
        if cfg.policy_objective == "q":
            return self.q(obs, act).min(0).values - cfg.alpha * logp, logp, torch.full_like(logp, math.nan)
        next_obs, reward = self.model_step(model, obs, act)
        value = (self.v if cfg.actor_value == "v" else self.v_target)(next_obs)
        if cfg.actor_done == "task":
            done = self.task.termination_fn(obs, self.actions.to_env(act), next_obs).detach()
        return reward - cfg.alpha * logp + cfg.gamma * (1.0 - done.float()) * value, logp, reward

    def soft_q(self, obs: torch.Tensor) -> torch.Tensor:
        """min_j Q_j(s, a~) - alpha log pi(a~|s), a~ ~ pi(.|s): V's target at H = 1."""
        act, logp = self.actor.rsample(obs, self.update_noise)
        return self.q(obs, act).min(0).values - self.config.alpha * logp

    def expanded(self, model: ModelPlayer, obs: torch.Tensor, steps: int,
                 tail: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """sum_k gamma^k (r^_k - alpha log pi(a_k|s_k)) over `steps` imagined steps from `obs`
        (stopped where the task's termination function ends them) + gamma^steps tail(s_steps);
        `tail(obs)` itself when steps = 0."""
        cfg = self.config
        total = torch.zeros(obs.shape[:-1], device=obs.device)
        discount = torch.ones_like(total)
        for _ in range(steps):
            act, logp = self.actor.rsample(obs, self.update_noise)
            next_obs, reward = self.model_step(model, obs, act)
            alive = discount > 0
            total = total + torch.where(alive, discount * (reward - cfg.alpha * logp), 0.0)
            ended = self.task.termination_fn(obs, self.actions.to_env(act), next_obs).bool()
            discount = discount * cfg.gamma * (~ended).float()
            obs = next_obs
        return total + torch.where(discount > 0, discount * tail(obs), 0.0)

    def value_losses(self, model: ModelPlayer, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(Q loss summed over the two critics, V loss): 0.5 mean squared errors to the eq. 6
        and eq. 5 targets (value-expanded when H > 1)."""
        cfg = self.config
        steps = cfg.value_expansion_h - 1
        with torch.no_grad():
            next_value = self.expanded(model, batch["next_obs"], steps, self.v_target)
            q_target = batch["reward"] + cfg.gamma * (1.0 - batch["done"].float()) * next_value
            v_target = self.expanded(model, batch["obs"], steps, self.soft_q)
        q_loss = 0.5 * ((self.q(batch["obs"], batch["act"]) - q_target) ** 2).mean(1).sum()
        v_loss = 0.5 * ((self.v(batch["obs"]) - v_target) ** 2).mean()
        return q_loss, v_loss

    # --- one update ------------------------------------------------------------------------
    def update(self, model: ModelPlayer, batch: Batch) -> dict[str, torch.Tensor]:
        """Actor step, value step, target step (the code's order) on one batch of real data."""
        objective, logp, reward = self.actor_objective(model, batch["obs"], batch["done"])
        self.pi_optimizer.zero_grad(set_to_none=True)
        # only the actor's parameters get gradients: the model, Q and V stay as they are
        (-objective.mean()).backward(inputs=list(self.actor.parameters()))
        self.pi_optimizer.step()

        q_loss, v_loss = self.value_losses(model, batch)
        self.value_optimizer.zero_grad(set_to_none=True)
        (q_loss + v_loss).backward()
        self.value_optimizer.step()

        with torch.no_grad():
            for target, source in zip(self.v_target.parameters(), self.v.parameters()):
                target.lerp_(source, self.config.tau)
        return {"q_loss": q_loss.detach(), "v_loss": v_loss.detach(),
                "actor_objective": objective.detach().mean(), "entropy": -logp.detach().mean(),
                "model_reward": reward.detach().mean()}

    # --- the move --------------------------------------------------------------------------
    def improve(self, model: ModelPlayer, replay: ReplayBuffer, initial_states: InitialStateBuffer,
                steps: int) -> ImproveReport:
        """For every real step added since the last call: `updates_per_step` updates if it was
        taken once the buffer held `ac_start_samples` transitions, and the model's steps (see
        the module docstring). `steps` (the schedule's policy steps) and `initial_states` are
        not used: the data clock sets the work."""
        self._check_model(model)
        total = replay.total_added
        trained = max(0, total - max(self.env_steps_seen, self.config.ac_start_samples))
        warmup = total - self.env_steps_seen - trained
        stats = self._train(model, replay, warmup, trained)
        self.env_steps_seen = total
        self.improve_calls += 1
        kl = stats.pop("kl")
        updates = self.config.updates_per_step * trained
        return ImproveReport(steps=updates, kl=kl, model_return=stats["model_reward"],
                             extras={key: stats[key] for key in EXTRAS + MODEL_EXTRAS})

    def _batch(self, real: Batch) -> Batch:
        """A uniform minibatch of `batch_size` real transitions."""
        n = real["obs"].shape[0]
        idx = torch.randint(0, n, (self.config.batch_size,), generator=self.generator).to(self.device)
        return {k: v[idx] for k, v in real.items()}

    def _model_step(self, model: ModelPlayer, batch: Batch) -> torch.Tensor:
        """One of the model's own Adam steps on real transitions (actions back in env units)."""
        return model.train_step(batch["obs"], self.actions.to_env(batch["act"]),  # type: ignore[attr-defined]
                                batch["reward"], batch["next_obs"])

    def _train(self, model: ModelPlayer, replay: ReplayBuffer, warmup: int, trained: int
               ) -> dict[str, float]:
        """The work of `warmup` model-only steps, then of `trained` steps with updates, on
        uniform minibatches of the replay buffer: the mean of each statistic over the updates
        (NaN if none), the model's steps and their mean loss (NaN if none), and the KL between
        the actor before and after on up to 1000 real states."""
        cfg = self.config
        k, m = cfg.model_steps_per_step, cfg.updates_per_step
        model_steps = (warmup + k * trained) if k > 0 else 0
        updates = m * trained
        if warmup + trained == 0 or len(replay) == 0:
            return {"kl": 0.0, **{key: math.nan for key in EXTRAS}, "model_steps": 0.0,
                    "model_loss": math.nan}
        model_loss = torch.zeros((), device=self.device)  # summed over the model steps
        if k == 0:  # MBPO's fit: to holdout early stopping on all the data
            fit = EARLY_STOPPED_FIT
            fitted = model.fit(replay, fit["model_epochs"], fit["model_min_steps"], fit["model_max_steps"])
            model_steps = fitted.steps
            model_loss += fitted.train_loss * fitted.steps  # its elites' holdout MSE as the mean
        real = self.actions.real_data(replay)
        probe = real["obs"][:1000]
        with torch.no_grad():
            old_mean, old_log_std = self.actor(probe)
        sums: dict[str, torch.Tensor] = {}
        for _ in range(warmup if k > 0 else 0):
            model_loss = model_loss + self._model_step(model, self._batch(real))
        chained = min(k, m)
        for _ in range(trained):
            for i in range(m):
                batch = self._batch(real)
                if i < chained:
                    model_loss = model_loss + self._model_step(model, batch)
                for key, value in self.update(model, batch).items():
                    sums[key] = sums.get(key, 0.0) + value
            for _ in range(k - chained):
                model_loss = model_loss + self._model_step(model, self._batch(real))
        out = {key: (value / updates).item() for key, value in sums.items()} if updates \
            else {key: math.nan for key in EXTRAS}
        no_model_reward = cfg.policy_objective == "q"  # its model_reward is NaN
        if updates and not all(math.isfinite(value) for key, value in out.items()
                               if not (no_model_reward and key == "model_reward")):
            raise NonFiniteError(f"MEMB diverged (means {out}); lower memb.value_lr or memb.pi_lr")
        out["model_loss"] = (model_loss / model_steps).item() if model_steps else math.nan
        if model_steps and not math.isfinite(out["model_loss"]):
            raise NonFiniteError(f"MEMB's model steps diverged (mean loss {out['model_loss']}); "
                                 f"lower probabilistic_model.lr")
        with torch.no_grad():
            mean, log_std = self.actor(probe)
        return {"kl": gaussian_kl(old_mean, old_log_std, mean, log_std).mean().item(), **out,
                "model_steps": float(model_steps)}

    # --- state -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Tensors and plain types only (torch.load(weights_only=True) reads it back)."""
        return {"nets": self.nets.state_dict(), "pi_optimizer": self.pi_optimizer.state_dict(),
                "value_optimizer": self.value_optimizer.state_dict(),
                "generator": self.generator.get_state(), "noise": self.noise.get_state(),
                "update_noise": self.update_noise.get_state(),
                "env_steps_seen": self.env_steps_seen, "improve_calls": self.improve_calls}

    def load_state_dict(self, state: dict) -> None:
        self.nets.load_state_dict(state["nets"])
        self.pi_optimizer.load_state_dict(state["pi_optimizer"])
        self.value_optimizer.load_state_dict(state["value_optimizer"])
        self.generator.set_state(state["generator"])
        self.noise.set_state(state["noise"])
        self.update_noise.set_state(state["update_noise"])
        self.env_steps_seen = int(state["env_steps_seen"])
        self.improve_calls = int(state["improve_calls"])
        self.actions.forget()


def memb_player(settings: MEMBConfig, context: PlayerContext) -> MEMBPolicyPlayer:
    """`run.policy = "memb"`: MEMB's actor-critic, from `[memb]`."""
    return MEMBPolicyPlayer(context.task, settings, context.device, context.seed)
