"""The paper's policy player: model-based natural policy gradient with GAE ([P] Subroutine 1)."""
from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import torch
from torch import nn

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.npg.config import NPGConfig, PolicyConfig, start_fraction_for
from stackelberg.core.errors import NonFiniteError
from stackelberg.core.networks import seeded
from stackelberg.npg.gae import discounted_returns, gae_advantages
from stackelberg.npg.step import npg_step
from stackelberg.core.protocols import ImproveReport, ModelPlayer
from stackelberg.npg.policy import GaussianMLPPolicy
from stackelberg.core.model_env import SyntheticPaths, model_rollouts
from stackelberg.npg.value import ValueBaseline, value_features
from stackelberg.core.registry import PlayerContext
from stackelberg.tasks import Task


class NPGPolicyPlayer(nn.Module):
    """Each improvement step: draw start states, roll the policy out in every ensemble member,
    score with the task's reward/termination functions, GAE, one NPG step, refit the baseline."""

    reads_task_reward = True  # its rollouts are scored by task.reward_fn (see Game)

    def __init__(self, task: Task, npg: Optional[NPGConfig] = None,
                 policy: Optional[PolicyConfig] = None, device: str | torch.device = "cpu",
                 seed: int = 0):
        super().__init__()
        self.task = task
        self.npg = npg or NPGConfig()
        pcfg = policy or self.npg.policy_config()
        with seeded(seed):
            self.policy = GaussianMLPPolicy(task.obs_dim, task.act_dim, pcfg.hidden_sizes,
                                            pcfg.init_log_std, pcfg.min_log_std, pcfg.max_log_std)
            self.value = ValueBaseline(task.obs_dim, self.npg.value_hidden_sizes, self.npg.value_lr,
                                       self.npg.value_weight_decay, self.npg.value_batch_size,
                                       self.npg.value_epochs)
        self.device = torch.device(device)
        self.to(self.device)
        self.generator = torch.Generator().manual_seed(seed + 1)  # start states, batches
        self.noise = torch.Generator(device=self.device).manual_seed(seed + 2)  # action noise
        self.horizon = min(task.horizon, self.npg.horizon_cap)
        self.start_fraction = start_fraction_for(self.npg, task.horizon)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        return self.policy.sample(obs.to(self.device), self.noise, deterministic)

    def start_states(self, replay: ReplayBuffer, initial: InitialStateBuffer, n: int) -> torch.Tensor:
        from_buffer = round(n * self.start_fraction) if len(replay) else 0
        parts = [initial.sample(n - from_buffer, self.generator)]
        if from_buffer:
            parts.append(replay.sample_states(from_buffer, self.generator))
        return torch.cat(parts).to(self.device)

    def rollouts(self, model: ModelPlayer, start_states: torch.Tensor,
                 deterministic: bool = False, horizon: Optional[int] = None) -> SyntheticPaths:
        return model_rollouts(model.step, lambda s: self.act(s, deterministic), self.task,
                              start_states, model.ensemble_size, horizon or self.horizon,
                              self.npg.action_clamp)

    def improve(self, model: ModelPlayer, replay: ReplayBuffer, initial_states: InitialStateBuffer,
                steps: int) -> ImproveReport:
        cfg = self.npg
        per_member = math.ceil(cfg.num_trajectories / model.ensemble_size)
        kl, returns, value_loss = float("nan"), float("nan"), float("nan")
        backtracks, rejected = 0, 0
        for _ in range(steps):
            paths = self.rollouts(model, self.start_states(replay, initial_states, per_member))
            if cfg.min_rollout_length > 1:
                paths = paths.keep(paths.lengths >= cfg.min_rollout_length)
                if paths.mask.shape[0] == 0:
                    continue
            returns = paths.returns().mean().item()
            if not math.isfinite(returns):
                raise NonFiniteError(
                    "synthetic rollouts produced a non-finite return: the model or the task's "
                    "reward function returned NaN/inf")
            features = value_features(paths.obs)
            with torch.no_grad():
                values = self.value(features)
            if not bool(torch.isfinite(values[paths.mask]).all()):  # else the NPG step is blamed
                raise NonFiniteError("the value baseline predicts NaN/inf; lower npg.value_lr")
            adv = gae_advantages(paths.reward, values, paths.mask, paths.terminated, cfg.gamma,
                                 cfg.gae_lambda)
            targets = discounted_returns(paths.reward, paths.mask, cfg.gamma)
            m = paths.mask
            flat_adv = adv[m]
            flat_adv = (flat_adv - flat_adv.mean()) / (flat_adv.std() + 1e-6) if flat_adv.numel() > 1 else flat_adv
            info = npg_step(self.policy, paths.obs[m], paths.act[m], flat_adv, cfg.delta,
                            cfg.cg_iters, cfg.cg_damping, cfg.entropy_coef,
                            cfg.fvp_sample_fraction, cfg.max_kl, generator=self.generator)
            kl = info.kl
            backtracks += max(info.backtracks, 0)
            rejected += info.backtracks < 0
            value_loss = self.value.fit(features[m], targets[m], self.generator)
        return ImproveReport(steps=steps, kl=kl, model_return=returns,
                             extras={"value_loss": value_loss, "kl_backtracks": backtracks,
                                     "rejected_steps": rejected,
                                     "log_std": self.policy.log_std.mean().item()})

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:
        """torch's module state under "module", with the value optimizer and both generators."""
        return {"module": super().state_dict(*args, **kwargs),
                "value_optimizer": self.value.optimizer.state_dict(),
                "generator": self.generator.get_state(), "noise": self.noise.get_state()}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True, assign: bool = False) -> None:
        super().load_state_dict(state["module"], strict=strict, assign=assign)
        self.value.optimizer.load_state_dict(state["value_optimizer"])
        self.generator.set_state(state["generator"])
        self.noise.set_state(state["noise"])


def npg_player(settings: NPGConfig, context: PlayerContext) -> NPGPolicyPlayer:
    """`run.policy = "npg"`: the paper's player from `[npg]`."""
    return NPGPolicyPlayer(context.task, settings, None, context.device, seed=context.seed)
