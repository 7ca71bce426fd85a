"""Model players: the deterministic ensemble ([P]) and the probabilistic one (MBPO), the batched
ensemble layers they share, early stopping and wrapped-angle handling."""

from stackelberg.core.registry import register_model_player
from stackelberg.models.config import (ModelConfig, ProbabilisticModelConfig,
                                       settle_fit_precision, upgrade_probabilistic_record)
from stackelberg.models.deterministic import DynamicsEnsemble, deterministic_model
from stackelberg.models.probabilistic import ProbabilisticEnsemble, probabilistic_model

register_model_player("deterministic", deterministic_model, config=ModelConfig, section="model",
                      diverge_knobs=(("", "lr"),), settle=settle_fit_precision)
register_model_player("probabilistic", probabilistic_model, config=ProbabilisticModelConfig,
                      section="probabilistic_model", diverge_knobs=(("", "lr"),),
                      upgrade=upgrade_probabilistic_record)

__all__ = ["DynamicsEnsemble", "ProbabilisticEnsemble"]
