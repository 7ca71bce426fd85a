"""Players: the interfaces and the paper's implementations."""
from stackelberg.players.base import FitReport, ImproveReport, ModelPlayer, PolicyPlayer
from stackelberg.players.dynamics import DynamicsEnsemble
from stackelberg.players.npg import NPGPolicyPlayer

__all__ = ["ModelPlayer", "PolicyPlayer", "FitReport", "ImproveReport", "DynamicsEnsemble",
           "NPGPolicyPlayer"]
