"""M3PO's meta-policy player: MBPO's player (SAC on k = 1 branched rollouts from real
histories) on a task whose observation carries its history, so actor and critics read h_t.

Reconstructed: the actor and critics are SAC's MLPs on the flat history (the appendix does not
say whether the meta-policy has a GRU of its own); M3PO-h's real-data schedule is
`M3POConfig.real_ratio_schedule` (see `stackelberg.m3po.config`).
"""
from __future__ import annotations

from typing import Optional

import torch

from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer
from stackelberg.core.errors import UserInputError
from stackelberg.core.protocols import ImproveReport, ModelPlayer
from stackelberg.core.registry import PlayerContext
from stackelberg.m3po.config import M3POConfig, m3po_config_for
from stackelberg.mbpo.player import MBPOPolicyPlayer
from stackelberg.tasks import Task
from stackelberg.tasks.history import HISTORY_LENGTH, history_name


class M3POPolicyPlayer(MBPOPolicyPlayer):
    """MBPO's player whose SAC batches take their real share from M3PO-h's schedule (logged as
    `policy_real_ratio`)."""

    config: M3POConfig

    def __init__(self, task: Task, config: Optional[M3POConfig] = None,
                 device: str | torch.device = "cpu", seed: int = 0):
        if task.history is None:
            raise UserInputError(
                f"the m3po policy reads the history in the observation, and task {task.name!r} "
                f"has none: use a task with a history (a switching world's "
                f"{history_name('NAME', HISTORY_LENGTH)}, say --task "
                f"{history_name('halfcheetah-fwd-bwd', HISTORY_LENGTH)}), or --policy mbpo")
        super().__init__(task, config or m3po_config_for(task.name), device, seed)
        self.data_clock = 0  # replay.total_added of the current improve call

    def real_ratio(self) -> float:
        return self.config.real_ratio_at(self.epoch(self.data_clock))

    def improve(self, model: ModelPlayer, replay: ReplayBuffer, initial_states: InitialStateBuffer,
                steps: int) -> ImproveReport:
        self.data_clock = replay.total_added
        report = super().improve(model, replay, initial_states, steps)
        report.extras["real_ratio"] = self.real_ratio()
        return report


def m3po_player(settings: M3POConfig, context: PlayerContext) -> M3POPolicyPlayer:
    """`run.policy = "m3po"`: the meta-policy from `[m3po]`."""
    return M3POPolicyPlayer(context.task, settings, context.device, context.seed)
