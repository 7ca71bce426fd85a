"""stackelberg: model-based RL as a Stackelberg game between a policy player and a model player
(Rajeswaran, Mordatch, Kumar, ICML 2020)."""
import os

# Before torch loads MKL: MKL otherwise picks kernels by memory alignment, and a resumed run's
# tensors sit at other addresses than an uninterrupted run's, so the two drift apart in the last
# bits (seen on an AVX-512 EPYC). STRICT keeps the fastest instruction set but makes results
# independent of alignment, which `--resume` promises. A value the user set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

from stackelberg.buffers import InitialStateBuffer, ReplayBuffer, Trajectory
from stackelberg.config import Config, ModelConfig, NPGConfig, PolicyConfig, RunConfig
from stackelberg.errors import NonFiniteError, UserInputError
from stackelberg.game import Game, IterationReport
from stackelberg.mbpo_config import MBPO_TASK_DEFAULTS, MBPOConfig, ProbabilisticModelConfig
from stackelberg.perturbations import Perturbation, parse_perturbation
from stackelberg.players import (DynamicsEnsemble, FitReport, ImproveReport, MBPOPolicyPlayer,
                                 ModelPlayer, NPGPolicyPlayer, PolicyPlayer, ProbabilisticEnsemble,
                                 build_mbpo_players)
from stackelberg.schedules import BR, GDA, MAL, PAL, Schedule, make_schedule

__version__ = "0.1.0"

__all__ = [
    "Game", "IterationReport", "Schedule", "PAL", "MAL", "GDA", "BR", "make_schedule",
    "ModelPlayer", "PolicyPlayer", "DynamicsEnsemble", "NPGPolicyPlayer", "FitReport",
    "ImproveReport", "ReplayBuffer", "InitialStateBuffer", "Trajectory", "Config", "ModelConfig",
    "NPGConfig", "PolicyConfig", "RunConfig", "UserInputError", "NonFiniteError",
    "ProbabilisticEnsemble", "MBPOPolicyPlayer", "build_mbpo_players", "MBPOConfig",
    "ProbabilisticModelConfig", "MBPO_TASK_DEFAULTS", "Perturbation", "parse_perturbation",
]
