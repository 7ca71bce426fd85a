"""The paper's policy player: Gaussian policy, value baseline, GAE, conjugate gradient, the
Fisher-vector product and NPG step, batched model rollouts, `NPGPolicyPlayer`."""

from stackelberg.core.registry import register_policy_player
from stackelberg.npg.config import POLICY_SECTION_KEYS, NPGConfig, settle_start_fraction
from stackelberg.npg.player import NPGPolicyPlayer, npg_player

register_policy_player(
    "npg", npg_player, model_player="deterministic", config=NPGConfig,
    # a non-finite value baseline wants a smaller value step; anything else a smaller NPG step
    diverge_knobs=(("value", "value_lr"), ("", "delta")),
    label=str.upper, method=lambda algo: algo, settle=settle_start_fraction,
    renamed_keys=POLICY_SECTION_KEYS)

__all__ = ["NPGPolicyPlayer", "NPGConfig"]
