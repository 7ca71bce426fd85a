"""MEMB's policy player (Tan, Qu, Xiong, Zhang, *Model Embedding Model-Based Reinforcement
Learning*, Algorithm 1 as the authors' code runs it): SAC-v1-style actor-critic whose actor
objective goes through a learned model.

Each actor-critic update, on one minibatch of real transitions (s, a, r, s', d):
1. actor: maximise r^(s, a~) - alpha log pi(a~|s) + gamma (1 - d) V(f(s, a~)), a~ ~ pi(.|s),
   with a~, the model's draw of (s', r^) and V all reparameterised (eq. 9), so the gradient
   flows through the learned reward, the learned dynamics and V; only the actor moves. `d` is
   the real transition's termination (the code's choice). With `policy_objective = "q"` the
   objective is SAC-v1's min_j Q_j(s, a~) - alpha log pi(a~|s) instead (no model);
2. values, one Adam step for Q1, Q2 and V on real data only:
   Q_j(s, a) -> r + gamma (1 - d) Vbar(s')                          (eq. 6)
   V(s)      -> min_j Q_j(s, a~) - alpha log pi(a~|s), a~ ~ pi(.|s)   (eq. 5, the code's min);
   with `value_expansion_h = H > 1` both targets first take H - 1 imagined steps through the
   model (Feinberg et al. 2018's value expansion, App. B.1's ablation);
3. Vbar <- tau V + (1 - tau) Vbar.
The temperature alpha is fixed. The losses are means over the batch (the code's TF minimises the
actor's per-sample objective summed, which under Adam is nearly the same step).

The work follows the data clock (`ReplayBuffer.total_added`), as MBPO's player does:
`updates_per_step` updates for every real step taken once the buffer held `ac_start_samples`
transitions, in one block per `improve` call; the first call's data was collected with uniform
random actions (the code's start_steps).
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
from stackelberg.memb.config import MEMBConfig, memb_config_for
from stackelberg.core.networks import seeded
from stackelberg.tasks import Task


__all__ = ["MEMBPolicyPlayer", "ValueNet", "memb_player"]

EXTRAS = ("q_loss", "v_loss", "actor_objective", "entropy", "model_reward")

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
        """`updates_per_step` updates for every real step added since the last call and taken
        once the buffer held `ac_start_samples` transitions. `steps` (the schedule's policy
        steps) and `initial_states` are not used: the data clock sets the work."""
        self._check_model(model)
        total = replay.total_added
        trained = max(0, total - max(self.env_steps_seen, self.config.ac_start_samples))
        updates = self.config.updates_per_step * trained
        stats = self._train(model, replay, updates)
        self.env_steps_seen = total
        self.improve_calls += 1
        kl = stats.pop("kl")
        return ImproveReport(steps=updates, kl=kl, model_return=stats["model_reward"],
                             extras={key: stats[key] for key in EXTRAS})

    def _train(self, model: ModelPlayer, replay: ReplayBuffer, updates: int) -> dict[str, float]:
        """`updates` updates on uniform minibatches of the replay buffer; the mean of each
        statistic over them (NaN if none) and the KL between the actor before and after on up
        to 1000 real states."""
        if updates == 0 or len(replay) == 0:
            return {"kl": 0.0, **{key: math.nan for key in EXTRAS}}
        real = self.actions.real_data(replay)
        probe = real["obs"][:1000]
        with torch.no_grad():
            old_mean, old_log_std = self.actor(probe)
        sums: dict[str, torch.Tensor] = {}
        n = real["obs"].shape[0]
        for _ in range(updates):
            idx = torch.randint(0, n, (self.config.batch_size,), generator=self.generator).to(self.device)
            info = self.update(model, {k: v[idx] for k, v in real.items()})
            for key, value in info.items():
                sums[key] = sums.get(key, 0.0) + value
        out = {key: (value / updates).item() for key, value in sums.items()}
        no_model_reward = self.config.policy_objective == "q"  # its model_reward is NaN
        if not all(math.isfinite(v) for k, v in out.items() if not (no_model_reward and k == "model_reward")):
            raise NonFiniteError(f"MEMB diverged (means {out}); lower memb.value_lr or memb.pi_lr")
        with torch.no_grad():
            mean, log_std = self.actor(probe)
        return {"kl": gaussian_kl(old_mean, old_log_std, mean, log_std).mean().item(), **out}

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
