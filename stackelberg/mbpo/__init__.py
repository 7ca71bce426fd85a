"""The MBPO policy player (SAC on branched model rollouts), model-free SAC (`NoModel`), the
model-rollout buffer and their settings."""

from stackelberg.core.registry import register_model_player, register_policy_player
from stackelberg.mbpo.config import MBPOConfig, SACConfig, mbpo_run_defaults
from stackelberg.mbpo.model_free import NoModel, no_model, sac_run_defaults, upgrade_sac_record
from stackelberg.mbpo.player import MBPOPolicyPlayer, mbpo_player, sac_player

register_model_player("none", no_model)
register_policy_player("mbpo", mbpo_player, model_player="probabilistic", config=MBPOConfig,
                       defaults=mbpo_run_defaults, diverge_knobs=(("", "lr"),))
register_policy_player("sac", sac_player, model_player="none", config=SACConfig,
                       defaults=sac_run_defaults, diverge_knobs=(("", "lr"),),
                       label=lambda algo: "model-free SAC", method=lambda algo: "sac",
                       upgrade=upgrade_sac_record)

__all__ = ["MBPOPolicyPlayer", "NoModel", "MBPOConfig", "SACConfig"]
