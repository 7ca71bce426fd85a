"""Task registry: `tasks.make(name)` returns a `Task`; `tasks.names()` lists them."""
from __future__ import annotations

from typing import Callable, Dict

from stackelberg.tasks.check import TaskCheck, TaskError, check_task, validate_task
from stackelberg.core.errors import error_line
from stackelberg.tasks.base import ParamValue, ScoreFn, SuccessFn, Symmetry, Task, TransitionFn, WorldChange
from stackelberg.tasks.ant import ant
from stackelberg.tasks.gym_tasks import halfcheetah, hopper, inverted_pendulum
from stackelberg.tasks.history import HISTORY_LENGTH, history_factory, history_name
from stackelberg.tasks.pen import pen, pen_noterm, pen_vel
from stackelberg.tasks.reacher import reacher_7dof
from stackelberg.tasks.robel import dclaw_turn, dclaw_turn_fixed, dclaw_turn_vel, dkitty_orient
from stackelberg.tasks.switching_ant import ant_crippled_leg, ant_fwd_bwd
from stackelberg.tasks.switching_cheetah import halfcheetah_fwd_bwd
from stackelberg.tasks.switching_humanoid import humanoid_direc
from stackelberg.tasks.switching_pier import halfcheetah_pier
from stackelberg.tasks.switching_walker import walker2d_randomparams

_REGISTRY: Dict[str, Callable[[], Task]] = {
    "inverted-pendulum": inverted_pendulum,
    "hopper": hopper,
    "halfcheetah": halfcheetah,
    "ant": ant,
    "reacher-7dof": reacher_7dof,
    "pen": pen,
    "pen-noterm": pen_noterm,
    "pen-vel": pen_vel,
    "dclaw-turn": dclaw_turn,
    "dclaw-turn-fixed": dclaw_turn_fixed,
    "dclaw-turn-vel": dclaw_turn_vel,
    "dkitty-orient": dkitty_orient,
    "halfcheetah-fwd-bwd": halfcheetah_fwd_bwd,
    "halfcheetah-pier": halfcheetah_pier,
    "ant-fwd-bwd": ant_fwd_bwd,
    "ant-crippled-leg": ant_crippled_leg,
    "walker2d-randomparams": walker2d_randomparams,
    "humanoid-direc": humanoid_direc,
}
# the switching worlds, and the reacher of [P]'s Figure 4, with M3PO's history in the observation
# ("halfcheetah-fwd-bwd+h10")
_REGISTRY.update({history_name(name, HISTORY_LENGTH): history_factory(_REGISTRY[name])
                  for name in ("halfcheetah-fwd-bwd", "halfcheetah-pier", "ant-fwd-bwd",
                               "ant-crippled-leg", "walker2d-randomparams", "humanoid-direc",
                               "reacher-7dof")})


# names whose factory's task passed `validate_task` in this process
_VALIDATED: set[str] = set()


class UnknownTaskError(ValueError):
    pass


def names() -> list[str]:
    return sorted(_REGISTRY)


def register(name: str, factory: Callable[[], Task]) -> None:
    """Add a task so that `make(name)` and the CLI's `--task name` find it (from a module of
    yours: `--import MODULE`). Registering the same factory again (a module imported twice)
    is harmless; another factory under a taken name is refused."""
    old = _REGISTRY.get(name)
    same = old is not None and (getattr(old, "__module__", None), getattr(old, "__qualname__", None)) \
        == (getattr(factory, "__module__", None), getattr(factory, "__qualname__", None))
    if old is not None and not same:
        raise TaskError(f"task {name!r} is already registered (by {getattr(old, '__module__', '?')}); "
                        f"register yours under another name")
    _REGISTRY[name] = factory
    _VALIDATED.discard(name)


def make(name: str) -> Task:
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownTaskError(
            f"unknown task {name!r}; valid tasks: {', '.join(names())}"
        ) from None
    try:
        task = factory()
    except TaskError:
        raise
    except Exception as err:  # a user's task factory: one line naming the task
        raise TaskError(f"task {name!r}: its factory raised {error_line(err)}") from None
    if name in _VALIDATED:  # its factory's tasks were checked against the env already
        object.__setattr__(task, "_validated", True)
    else:
        validate_task(task)
        _VALIDATED.add(name)
    return task


__all__ = ["Task", "Symmetry", "TransitionFn", "SuccessFn", "ScoreFn", "WorldChange", "ParamValue",
           "make", "names", "register", "UnknownTaskError", "TaskError", "TaskCheck", "check_task",
           "validate_task"]
