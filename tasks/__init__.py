"""Task registry: `tasks.make(name)` returns a `Task`; `tasks.names()` lists them."""
from __future__ import annotations

from typing import Callable, Dict

from tasks.base import ParamValue, ScoreFn, SuccessFn, Symmetry, Task, TransitionFn, WorldChange
from tasks.ant import ant
from tasks.gym_tasks import hopper, inverted_pendulum
from tasks.pen import pen
from tasks.reacher import reacher_7dof
from tasks.robel import dclaw_turn, dclaw_turn_fixed, dkitty_orient

_REGISTRY: Dict[str, Callable[[], Task]] = {
    "inverted-pendulum": inverted_pendulum,
    "hopper": hopper,
    "ant": ant,
    "reacher-7dof": reacher_7dof,
    "pen": pen,
    "dclaw-turn": dclaw_turn,
    "dclaw-turn-fixed": dclaw_turn_fixed,
    "dkitty-orient": dkitty_orient,
}


class UnknownTaskError(ValueError):
    pass


def names() -> list[str]:
    return sorted(_REGISTRY)


def register(name: str, factory: Callable[[], Task]) -> None:
    """Add a task so that `make(name)` and the CLI's `--task name` find it."""
    if name in _REGISTRY:
        raise ValueError(f"task {name!r} is already registered")
    _REGISTRY[name] = factory


def make(name: str) -> Task:
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task {name!r}; valid tasks: {', '.join(names())}"
        ) from None
    return factory()


__all__ = ["Task", "Symmetry", "TransitionFn", "SuccessFn", "ScoreFn", "WorldChange", "ParamValue",
           "make", "names", "register", "UnknownTaskError"]
