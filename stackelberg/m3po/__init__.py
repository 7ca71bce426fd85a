"""M3PO (Hiraoka et al., Meta-Model-Based Meta-Policy Optimization): a history-conditioned
meta-policy (MBPO's player on histories, `m3po`) and meta-model (a GRU over the last L steps
and an MLP, `meta`), on tasks whose observation carries the history (`NAME+h10`).

M2PO is `--policy m3po --set run.model_player=probabilistic` (the probabilistic ensemble is
Markov on a history task: it reads o_t and a_t only and shifts the window); M3PO-h is
`--set m3po.real_ratio_schedule=[a,b]`."""

from stackelberg.core.registry import register_model_player, register_policy_player
from stackelberg.m3po.config import M3POConfig, m3po_run_defaults
from stackelberg.m3po.meta_model import MetaModel, MetaModelConfig, meta_model
from stackelberg.m3po.player import M3POPolicyPlayer, m3po_player

register_model_player("meta", meta_model, config=MetaModelConfig, section="meta_model",
                      diverge_knobs=(("", "lr"),))
register_policy_player("m3po", m3po_player, model_player="meta", config=M3POConfig,
                       defaults=m3po_run_defaults, diverge_knobs=(("", "lr"),))

__all__ = ["M3POConfig", "M3POPolicyPlayer", "MetaModel", "MetaModelConfig"]
