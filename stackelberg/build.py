"""Players from a resolved `Config`: one place that maps `run.policy` / `run.model_player` to
classes, shared by the CLI, the diagnostics and anyone scripting runs from TOML files."""
from __future__ import annotations

import torch

from stackelberg.config import Config
from stackelberg.players.base import ModelPlayer, PolicyPlayer
from tasks import Task


def build_players(config: Config, task: Task, device: str | torch.device = "cpu"
                  ) -> tuple[PolicyPlayer, ModelPlayer]:
    """The (policy, model) pair the config asks for, seeded with `run.seed`."""
    seed = config.run.seed
    angle_dims = task.angle_dims if config.model.wrap_angles else ()
    if config.model_player == "probabilistic":
        from stackelberg.players.probabilistic import ProbabilisticEnsemble

        model = ProbabilisticEnsemble(task.obs_dim, task.act_dim, config.probabilistic_model,
                                      device, seed, angle_dims=angle_dims)
    else:
        from stackelberg.players.dynamics import DynamicsEnsemble

        model = DynamicsEnsemble(task.obs_dim, task.act_dim, config.model, device, seed=seed,
                                 angle_dims=angle_dims)
    if config.run.policy == "mbpo":
        from stackelberg.players.mbpo import MBPOPolicyPlayer

        policy = MBPOPolicyPlayer(task, config.mbpo, device, seed)
    else:
        from stackelberg.players.npg import NPGPolicyPlayer

        policy = NPGPolicyPlayer(task, config.npg, config.policy, device, seed=seed)
    return policy, model
