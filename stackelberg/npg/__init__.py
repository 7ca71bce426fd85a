"""The paper's policy player: Gaussian policy, value baseline, GAE, conjugate gradient, the
Fisher-vector product and NPG step, batched model rollouts, `NPGPolicyPlayer`."""

from stackelberg.core.registry import register_policy_player
from stackelberg.npg.player import NPGPolicyPlayer, npg_player

register_policy_player("npg", npg_player, model_player="deterministic")

__all__ = ["NPGPolicyPlayer"]
