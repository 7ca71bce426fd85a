"""Players from a resolved `Config`: one place that maps `run.policy` / `run.model_player` to
classes, shared by the CLI, the diagnostics and anyone scripting runs from TOML files."""
from __future__ import annotations

import torch

from stackelberg.config import Config
from stackelberg.errors import UserInputError
from stackelberg.players.base import ModelPlayer, PolicyPlayer
from tasks import Task


def build_players(config: Config, task: Task, device: str | torch.device = "cpu"
                  ) -> tuple[PolicyPlayer, ModelPlayer]:
    """The (policy, model) pair the config asks for, seeded with `run.seed`."""
    seed = config.run.seed
    if config.run.policy == "sac":
        return _model_free_sac(config, task, device)
    if config.model_player == "none":
        raise UserInputError("run.model_player = \"none\" is for the model-free run.policy = \"sac\"; "
                             "choose deterministic or probabilistic")
    angle_dims = task.angle_dims if config.model.wrap_angles else ()
    symmetry = None
    if config.model.augment_symmetry:
        if task.symmetry is None:
            raise UserInputError(
                f"model.augment_symmetry needs a task with a mirror symmetry (Task.symmetry); "
                f"{task.name} has none: drop `--set model.augment_symmetry=true`")
        if config.model_player == "probabilistic":
            raise UserInputError(
                "model.augment_symmetry is implemented for the deterministic ensemble only; "
                "use run.model_player = \"deterministic\" or drop model.augment_symmetry")
        symmetry = task.symmetry
    if config.model_player == "probabilistic":
        if config.model.fit_precision != "float32":
            raise UserInputError(
                "model.fit_precision is implemented for the deterministic ensemble only; "
                "use run.model_player = \"deterministic\" or drop model.fit_precision")
        from stackelberg.players.probabilistic import ProbabilisticEnsemble

        model = ProbabilisticEnsemble(task.obs_dim, task.act_dim, config.probabilistic_model,
                                      device, seed, angle_dims=angle_dims)
    else:
        from stackelberg.players.dynamics import DynamicsEnsemble

        model = DynamicsEnsemble(task.obs_dim, task.act_dim, config.model, device, seed=seed,
                                 angle_dims=angle_dims, symmetry=symmetry)
    if config.run.policy == "mbpo":
        from stackelberg.players.mbpo import MBPOPolicyPlayer

        policy = MBPOPolicyPlayer(task, config.mbpo, device, seed)
    else:
        from stackelberg.players.npg import NPGPolicyPlayer

        policy = NPGPolicyPlayer(task, config.npg, config.policy, device, seed=seed)
    return policy, model


def _model_free_sac(config: Config, task: Task, device: str | torch.device
                    ) -> tuple[PolicyPlayer, ModelPlayer]:
    """Model-free SAC: the `[mbpo]` section's SAC settings, real data only, no model player."""
    from stackelberg.players.mbpo import MBPOPolicyPlayer
    from stackelberg.players.model_free import NoModel

    if config.run.model_player not in ("auto", "none"):
        raise UserInputError(f"run.policy = \"sac\" is model-free and takes no model player; "
                             f"drop run.model_player = {config.run.model_player!r}")
    if config.mbpo.real_ratio != 1.0 or config.mbpo.rollouts_per_env_step != 0:
        raise UserInputError("run.policy = \"sac\" trains on real data only: keep mbpo.real_ratio = 1 "
                             "and mbpo.rollouts_per_env_step = 0 (or use run.policy = \"mbpo\")")
    return MBPOPolicyPlayer(task, config.mbpo, device, config.run.seed), NoModel()
