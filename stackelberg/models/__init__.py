"""Model players: the deterministic ensemble ([P]) and the probabilistic one (MBPO), the batched
ensemble layers they share, early stopping and wrapped-angle handling."""

from stackelberg.core.registry import register_model_player
from stackelberg.models.deterministic import DynamicsEnsemble, deterministic_model
from stackelberg.models.probabilistic import ProbabilisticEnsemble, probabilistic_model

register_model_player("deterministic", deterministic_model)
register_model_player("probabilistic", probabilistic_model)

__all__ = ["DynamicsEnsemble", "ProbabilisticEnsemble"]
