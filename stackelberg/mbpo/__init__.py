"""The MBPO policy player (SAC on branched model rollouts), model-free SAC (`NoModel`), the
model-rollout buffer and `MBPOConfig`."""

from stackelberg.core.registry import register_model_player, register_policy_player
from stackelberg.mbpo.config import mbpo_run_defaults
from stackelberg.mbpo.model_free import NoModel, no_model, sac_run_defaults
from stackelberg.mbpo.player import MBPOPolicyPlayer, mbpo_player, sac_player

register_policy_player("mbpo", mbpo_player, model_player="probabilistic", defaults=mbpo_run_defaults)
register_policy_player("sac", sac_player, model_player="none", defaults=sac_run_defaults)
register_model_player("none", no_model)

__all__ = ["MBPOPolicyPlayer", "NoModel"]
