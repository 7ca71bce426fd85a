"""MEMB's policy player (the actor's gradient through the learned model) and `MEMBConfig`.

Everything that makes MEMB a choice of the run lives here and in one line of
`stackelberg.config` (its `[memb]` section): the name, the factory, the model player it picks
(the probabilistic ensemble, one member, with its reward head) and its run defaults."""

from stackelberg.core.registry import register_policy_player
from stackelberg.memb.config import MEMBConfig, memb_run_defaults
from stackelberg.memb.player import MEMBPolicyPlayer, memb_player

register_policy_player("memb", memb_player, model_player="probabilistic", defaults=memb_run_defaults)

__all__ = ["MEMBConfig", "MEMBPolicyPlayer"]
