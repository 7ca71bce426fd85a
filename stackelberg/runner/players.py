"""The (policy, model) pair a config names, each built by its registered factory from its own
section of the config and what every player needs (task, device, seed)."""
from __future__ import annotations

from typing import Any

import torch

from stackelberg.config import Config
from stackelberg.core.errors import UserInputError
from stackelberg.core.protocols import ModelPlayer, PolicyPlayer
from stackelberg.core.registry import PlayerContext, PlayerEntry, model_entry, policy_entry


def _settings(entry: PlayerEntry, config: Config) -> Any:
    return config.sections[entry.section] if entry.config is not None else None


def build_players(config: Config, task: Any, device: str | torch.device = "cpu"
                  ) -> tuple[PolicyPlayer, ModelPlayer]:
    """The (policy, model) pair the config names, each from its registered factory."""
    context = PlayerContext(task, torch.device(device), config.run.seed)
    policy_player = policy_entry(config.run.policy)
    model_player = model_entry(config.model_player)
    config.refresh_sections()
    model_free = policy_player.model_player == "none"
    if (model_player.name == "none") != model_free:
        if model_player.name == "none":
            raise UserInputError(f"run.model_player = \"none\" is for a model-free policy player; "
                                 f"{config.run.policy} needs a model: choose one of its model "
                                 f"players (run.model_player = \"auto\" picks its own)")
        raise UserInputError(f"run.policy = {config.run.policy!r} is model-free and takes no "
                             f"model player; drop run.model_player = {model_player.name!r}")
    model = model_player.factory(_settings(model_player, config), context)
    policy = policy_player.factory(_settings(policy_player, config), context)
    return policy, model
