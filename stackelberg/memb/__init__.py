"""MEMB's policy player (the actor's gradient through the learned model) and `MEMBConfig`.

Everything that makes MEMB a choice of the run is its one registration here: the name, the
factory, its `[memb]` section, the model player it picks (the probabilistic ensemble, one
member, with its reward head), its run defaults and the knobs to lower when it diverges."""

from stackelberg.core.registry import register_policy_player
from stackelberg.memb.config import MEMBConfig, memb_run_defaults
from stackelberg.memb.player import MEMBPolicyPlayer, memb_player

register_policy_player("memb", memb_player, model_player="probabilistic", config=MEMBConfig,
                       defaults=memb_run_defaults,
                       diverge_knobs=(("actor", "pi_lr"), ("", "value_lr")))

__all__ = ["MEMBConfig", "MEMBPolicyPlayer"]
