"""Players by name: `register_policy_player` / `register_model_player` map the names that
`run.policy` / `run.model_player` take to factories. The built-in players register themselves
here too (in `stackelberg.npg`, `stackelberg.mbpo`, `stackelberg.models`), so a user's player is
chosen exactly as the paper's is: `--policy NAME`, `--set run.model_player=NAME`, a sweep's
overrides. A user's module is imported with `--import MODULE` (recorded as `run.imports`, so a
resume, a sweep cell and `diagnose` import it again) and registers its players and tasks.
"""
from __future__ import annotations

import importlib
import re
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

import torch

from stackelberg.core.errors import UserInputError
from stackelberg.core.protocols import ModelPlayer, PolicyPlayer

if TYPE_CHECKING:
    from stackelberg.config import Config
    from stackelberg.tasks import Task

#: factory(config, task, device) -> player, seeded with config.run.seed
PolicyFactory = Callable[["Config", "Task", torch.device], PolicyPlayer]
ModelFactory = Callable[["Config", "Task", torch.device], ModelPlayer]
#: defaults(task_name) -> a TOML-shaped layer ({"section": {"key": value}}) applied under the
#: run's TOML and overrides when this policy player is chosen
DefaultsFactory = Callable[[str], dict[str, dict[str, Any]]]


@dataclass(frozen=True)
class PolicyEntry:
    factory: PolicyFactory
    model_player: str  # what run.model_player = "auto" means with this policy player
    defaults: Optional[DefaultsFactory] = None


_POLICY: dict[str, PolicyEntry] = {}
_MODEL: dict[str, ModelFactory] = {}


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name or name == "auto" or any(c.isspace() for c in name):
        raise ValueError(f"a {kind} player's name must be a non-empty word other than 'auto', "
                         f"got {name!r}")


def register_policy_player(name: str, factory: PolicyFactory, *, model_player: str = "deterministic",
                           defaults: Optional[DefaultsFactory] = None) -> None:
    """Make `run.policy = name` build `factory(config, task, device)`. `model_player` is the
    model player `run.model_player = "auto"` picks with it; `defaults(task_name)` gives config
    defaults (say, schedule knobs) that the run's TOML and overrides still override.
    Registering a name again replaces it (a re-imported module is harmless)."""
    _check_name(name, "policy")
    _POLICY[name] = PolicyEntry(factory, model_player, defaults)


def register_model_player(name: str, factory: ModelFactory) -> None:
    """Make `run.model_player = name` build `factory(config, task, device)`."""
    _check_name(name, "model")
    _MODEL[name] = factory


def policy_players() -> list[str]:
    return sorted(_POLICY)


def model_players() -> list[str]:
    return ["auto"] + sorted(_MODEL)


def policy_entry(name: str) -> PolicyEntry:
    if name not in _POLICY:
        raise UserInputError(f"unknown policy player {name!r}; registered: "
                             f"{', '.join(policy_players())} (a module of yours registers more: "
                             f"--import MODULE)")
    return _POLICY[name]


_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def import_modules(names: Sequence[str]) -> None:
    """Import each user module (they register tasks and players on import). The current folder
    is searched first, as `python script.py` would, so `--import mygame` finds ./mygame.py."""
    if names and "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    for name in names:
        if not _MODULE_NAME.fullmatch(name):
            raise UserInputError(f"cannot import {name!r} (run.imports): not a module name; give "
                                 f"a dotted Python name such as mygame or mypackage.tasks (no "
                                 f"path, no leading dot)")
        try:
            importlib.import_module(name)
        except UserInputError as err:  # e.g. a task name taken: the module's own one line
            raise UserInputError(f"importing {name!r} (run.imports): {err}") from None
        except ImportError as err:
            raise UserInputError(f"cannot import {name!r} (run.imports): {err}; is it on "
                                 f"PYTHONPATH, installed, or in the current folder?") from None
        except SyntaxError as err:
            raise UserInputError(f"cannot import {name!r} (run.imports): {err.msg} in "
                                 f"{err.filename} line {err.lineno}") from None
        except Exception as err:  # the module's own code failed: its error, in one line
            reason = (str(err).strip().splitlines() or ["(no message)"])[0][:200]
            raise UserInputError(f"importing {name!r} (run.imports) raised "
                                 f"{type(err).__name__}: {reason}; fix the module") from None


def build_players(config: "Config", task: "Task", device: str | torch.device = "cpu"
                  ) -> tuple[PolicyPlayer, ModelPlayer]:
    """The (policy, model) pair the config names, each from its registered factory."""
    device = torch.device(device)
    entry = policy_entry(config.run.policy)
    name = config.model_player
    if name not in _MODEL:
        raise UserInputError(f"unknown model player {name!r}; registered: "
                             f"{', '.join(model_players())}")
    if (name == "none") != (entry.model_player == "none"):
        if name == "none":
            raise UserInputError(f"run.model_player = \"none\" is for a model-free policy player "
                                 f"(run.policy = \"sac\"); {config.run.policy} needs a model: "
                                 f"choose deterministic or probabilistic")
        raise UserInputError(f"run.policy = {config.run.policy!r} is model-free and takes no "
                             f"model player; drop run.model_player = {name!r}")
    model = _MODEL[name](config, task, device)
    policy = entry.factory(config, task, device)
    return policy, model
