"""Players: the interfaces and the paper's implementations."""
from stackelberg.players.base import FitReport, ImproveReport, ModelPlayer, PolicyPlayer
from stackelberg.players.dynamics import DynamicsEnsemble
from stackelberg.players.mbpo import MBPOPolicyPlayer, build_mbpo_players
from stackelberg.players.npg import NPGPolicyPlayer
from stackelberg.players.probabilistic import ProbabilisticEnsemble

__all__ = ["ModelPlayer", "PolicyPlayer", "FitReport", "ImproveReport", "DynamicsEnsemble",
           "NPGPolicyPlayer", "ProbabilisticEnsemble", "MBPOPolicyPlayer", "build_mbpo_players"]
