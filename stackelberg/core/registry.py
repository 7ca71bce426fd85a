"""Players by name. A player is one registration: `register_policy_player(name, factory, ...)`
or `register_model_player(name, factory, ...)` carries its factory, its settings dataclass (its
own TOML section, `[name]` unless it says otherwise), its run defaults, the knobs to lower when it
diverges and its labels. Nothing above this module names a built-in player: the config, the CLI
and the report read what they need from the entry. The built-in players register here too (in
`stackelberg.npg`, `stackelberg.mbpo`, `stackelberg.models`), so a user's player is chosen as the
paper's is (`--policy NAME`, `--set run.model_player=NAME`, a sweep's overrides). A user's module
is imported with `--import MODULE` (recorded as `run.imports`, so a resume, a sweep cell and
`diagnose` import it again).

How a factory reads its settings: `factory(settings, context)`, where `settings` is the
player's own dataclass as the run resolved it (`None` for a player without one) and `context`
is a `PlayerContext` with what every player needs (the task, the torch device, the run's seed).
"""
from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Mapping, Optional, Sequence

import torch

from stackelberg.core.errors import UserInputError, error_line
from stackelberg.core.protocols import ModelPlayer, PolicyPlayer


@dataclass(frozen=True)
class PlayerContext:
    """What every player's factory gets besides its own settings."""

    task: Any  # a `stackelberg.tasks.Task`
    device: torch.device
    seed: int


#: factory(settings, context) -> player, seeded with context.seed
PolicyFactory = Callable[[Any, PlayerContext], PolicyPlayer]
ModelFactory = Callable[[Any, PlayerContext], ModelPlayer]
#: defaults(task_name) -> a TOML-shaped layer ({"section": {"key": value}}) applied under the
#: run's TOML and overrides when this policy player is chosen
DefaultsFactory = Callable[[str], dict[str, dict[str, Any]]]
#: settle(settings, task, device_type, in_use): fill in a value the run must record as it will
#: use it (an "auto" that depends on the machine or the task); runs for every registered section
SettleHook = Callable[[Any, Any, str, bool], None]
#: upgrade(record): a run record (TOML data) from before the player had this section, rewritten
#: in place to the current layout
UpgradeHook = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class PlayerEntry:
    """One registered player."""

    name: str
    kind: Literal["policy", "model"]
    factory: Callable[[Any, PlayerContext], Any]
    config: Optional[type] = None  # its settings dataclass
    section: str = ""  # its TOML section ("" = no settings)
    model_player: str = "deterministic"  # policy players: what run.model_player = "auto" means
    defaults: Optional[DefaultsFactory] = None
    #: (part of a parameter's name, knob of its own section): after a divergence, the knob of
    #: the first pair whose part names one of the non-finite parameters ("" matches any)
    diverge_knobs: tuple[tuple[str, str], ...] = ()
    #: a run's title from its algorithm (say "PAL" -> "PAL (MBPO policy)")
    label: Optional[Callable[[str], str]] = None
    #: the method the report groups a run under, from its algorithm
    method: Optional[Callable[[str], str]] = None
    settle: Optional[SettleHook] = None
    upgrade: Optional[UpgradeHook] = None
    #: old `section.key` -> own field name: keys of an older layout that still set this knob
    renamed_keys: Mapping[str, str] = field(default_factory=dict)

    def blamed_knob(self, bad_parameters: Sequence[str]) -> Optional[str]:
        """The `section.key` to lower after these parameters went non-finite."""
        for part, knob in self.diverge_knobs:
            if not part or any(f".{part}." in f".{name}." for name in bad_parameters):
                return f"{self.section}.{knob}"
        return None

    def run_label(self, algo: str) -> str:
        return self.label(algo) if self.label else f"{algo.upper()} ({self.name.upper()} policy)"

    def report_method(self, algo: str) -> str:
        return self.method(algo) if self.method else f"{algo}+{self.name}"


_POLICY: dict[str, PlayerEntry] = {}
_MODEL: dict[str, PlayerEntry] = {}


def _check_name(name: str, kind: str) -> None:
    if not isinstance(name, str) or not name or name == "auto" or any(c.isspace() for c in name):
        raise ValueError(f"a {kind} player's name must be a non-empty word other than 'auto', "
                         f"got {name!r}")


def _check_section(entry: PlayerEntry) -> None:
    if entry.config is None:
        return
    if not dataclasses.is_dataclass(entry.config):
        raise ValueError(f"player {entry.name!r}: config must be a dataclass, got {entry.config!r}")
    if entry.section in ("run", "schedule") or not entry.section.isidentifier():
        raise ValueError(f"player {entry.name!r}: section must be a word other than run and "
                         f"schedule, got {entry.section!r}")
    for other in (*_POLICY.values(), *_MODEL.values()):
        if other.section == entry.section and other.name != entry.name \
                and other.config is not entry.config:
            raise ValueError(f"player {entry.name!r}: section [{entry.section}] belongs to "
                             f"{other.name!r} with another settings class")


def register_policy_player(name: str, factory: PolicyFactory, *,
                           model_player: str = "deterministic", config: Optional[type] = None,
                           section: Optional[str] = None,
                           defaults: Optional[DefaultsFactory] = None,
                           diverge_knobs: Sequence[tuple[str, str]] = (),
                           label: Optional[Callable[[str], str]] = None,
                           method: Optional[Callable[[str], str]] = None,
                           settle: Optional[SettleHook] = None,
                           upgrade: Optional[UpgradeHook] = None,
                           renamed_keys: Optional[Mapping[str, str]] = None) -> None:
    """Make `run.policy = name` build `factory(settings, context)`.

    `config` is the player's settings dataclass, the TOML section `[section]` (default: the
    name); `model_player` is the model player `run.model_player = "auto"` picks with it;
    `defaults(task_name)` gives config defaults (say, schedule knobs) that the run's TOML and
    overrides still override; `diverge_knobs` names the knobs of its section to lower when its
    parameters go non-finite; `label(algo)` titles a run and `method(algo)` names its row in the
    report. Registering a name again replaces it (a re-imported module is harmless)."""
    _check_name(name, "policy")
    entry = PlayerEntry(name, "policy", factory, config, (section or name) if config else "",
                        model_player, defaults, tuple(diverge_knobs), label, method, settle,
                        upgrade, dict(renamed_keys or {}))
    _check_section(entry)
    _POLICY[name] = entry


def register_model_player(name: str, factory: ModelFactory, *, config: Optional[type] = None,
                          section: Optional[str] = None,
                          diverge_knobs: Sequence[tuple[str, str]] = (),
                          settle: Optional[SettleHook] = None,
                          upgrade: Optional[UpgradeHook] = None,
                          renamed_keys: Optional[Mapping[str, str]] = None) -> None:
    """Make `run.model_player = name` build `factory(settings, context)`; the keywords mean
    what they mean for `register_policy_player`."""
    _check_name(name, "model")
    entry = PlayerEntry(name, "model", factory, config, (section or name) if config else "",
                        diverge_knobs=tuple(diverge_knobs), settle=settle, upgrade=upgrade,
                        renamed_keys=dict(renamed_keys or {}))
    _check_section(entry)
    _MODEL[name] = entry


def policy_players() -> list[str]:
    return sorted(_POLICY)


def model_players() -> list[str]:
    return ["auto"] + sorted(_MODEL)


def entries() -> list[PlayerEntry]:
    """Every registered player, model players first, each kind in registration order."""
    return [*_MODEL.values(), *_POLICY.values()]


def sections() -> dict[str, type]:
    """Section name -> settings dataclass of every registered player that has settings."""
    return {e.section: e.config for e in entries() if e.config is not None}


def _entry(table: dict[str, PlayerEntry], kind: str, name: str, names: list[str]) -> PlayerEntry:
    if name not in table:
        raise UserInputError(f"unknown {kind} player {name!r}; registered: {', '.join(names)} "
                             f"(a module of yours registers more: --import MODULE)")
    return table[name]


def policy_entry(name: str) -> PlayerEntry:
    return _entry(_POLICY, "policy", name, policy_players())


def model_entry(name: str) -> PlayerEntry:
    return _entry(_MODEL, "model", name, model_players())


def model_player_for(policy: str, model_player: str) -> str:
    """The model player a run uses: `model_player`, or the policy player's own for "auto"."""
    if model_player != "auto":
        return model_player
    entry = _POLICY.get(policy)
    return entry.model_player if entry is not None else "deterministic"


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
            raise UserInputError(f"importing {name!r} (run.imports) raised {error_line(err)}; "
                                 f"fix the module") from None

