"""stackelberg: model-based RL as a Stackelberg game between a policy player and a model player
(Rajeswaran, Mordatch, Kumar, ICML 2020)."""
import os

# Before torch loads MKL: MKL otherwise picks kernels by memory alignment, and a resumed run's
# tensors sit at other addresses than an uninterrupted run's, so the two drift apart in the last
# bits (seen on an AVX-512 EPYC). STRICT keeps the fastest instruction set but makes results
# independent of alignment, which `--resume` promises. A value the user set is kept.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")


def _source_checkout_tasks() -> None:
    """Make `stackelberg.tasks` importable from a source checkout that is not installed.

    Installed, setuptools maps the repository's top-level `tasks/` folder to `stackelberg.tasks`
    (pyproject.toml), so no top-level `tasks` module exists to collide with a user's own
    `tasks.py`. Run from a checkout (`python -m stackelberg.run` in the repo root, nothing
    installed) the same folder is found here, beside this package."""
    import importlib.util
    import sys
    from pathlib import Path

    if "stackelberg.tasks" in sys.modules or importlib.util.find_spec("stackelberg.tasks"):
        return
    folder = Path(__file__).resolve().parent.parent / "tasks"
    spec = importlib.util.spec_from_file_location(
        "stackelberg.tasks", folder / "__init__.py", submodule_search_locations=[str(folder)])
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["stackelberg.tasks"] = module
    spec.loader.exec_module(module)


_source_checkout_tasks()

from stackelberg import tasks  # noqa: E402
from stackelberg.config import Config, RunConfig  # noqa: E402
from stackelberg.models.config import ModelConfig, ProbabilisticModelConfig  # noqa: E402
from stackelberg.npg.config import NPGConfig, PolicyConfig  # noqa: E402
from stackelberg.core.buffers import InitialStateBuffer, ReplayBuffer, Trajectory  # noqa: E402
from stackelberg.core.errors import NonFiniteError, UserInputError  # noqa: E402
from stackelberg.core.game import Game, IterationReport  # noqa: E402
from stackelberg.core.registry import (PlayerContext, register_model_player,  # noqa: E402
                                       register_policy_player)
from stackelberg.runner.players import build_players  # noqa: E402
from stackelberg.runner.run_folder import RunFolder, RunRecorder  # noqa: E402
from stackelberg.core.protocols import FitReport, ImproveReport, ModelPlayer, PolicyPlayer  # noqa: E402
from stackelberg.core.schedules import BR, GDA, MAL, PAL, Schedule, make_schedule  # noqa: E402
from stackelberg.mbpo.config import MBPO_TASK_DEFAULTS, MBPOConfig, SACConfig  # noqa: E402
from stackelberg.mbpo.player import MBPOPolicyPlayer, build_mbpo_players  # noqa: E402
from stackelberg.models.deterministic import DynamicsEnsemble  # noqa: E402
from stackelberg.models.probabilistic import ProbabilisticEnsemble  # noqa: E402
from stackelberg.npg.player import NPGPolicyPlayer  # noqa: E402
from stackelberg.worlds.perturbations import Perturbation, parse_perturbation  # noqa: E402
from stackelberg.config import config_to_toml, load_saved_config, resolve_config  # noqa: E402
from stackelberg.tasks import Task, TaskError, check_task  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Game", "IterationReport", "Schedule", "PAL", "MAL", "GDA", "BR", "make_schedule",
    "ModelPlayer", "PolicyPlayer", "DynamicsEnsemble", "NPGPolicyPlayer", "FitReport",
    "ImproveReport", "ReplayBuffer", "InitialStateBuffer", "Trajectory", "Config", "ModelConfig",
    "NPGConfig", "PolicyConfig", "RunConfig", "UserInputError", "NonFiniteError",
    "ProbabilisticEnsemble", "MBPOPolicyPlayer", "build_mbpo_players", "MBPOConfig",
    "ProbabilisticModelConfig", "SACConfig", "MBPO_TASK_DEFAULTS", "Perturbation", "parse_perturbation",
    "RunFolder", "RunRecorder", "register_policy_player", "register_model_player", "PlayerContext", "build_players",
    "resolve_config", "load_saved_config", "config_to_toml", "Task", "TaskError", "check_task",
    "tasks",
]
