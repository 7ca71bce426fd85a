"""Change the world at sample n: perturbations of the dynamics or of the goal distribution.

The paper's Figure 4 changes the 7-DOF reacher's world in the middle of training (a longer
forearm after 10^4 samples, a new goal region after 8x10^3) to see which leader adapts faster.
Here that is a general feature. A perturbation is written `KIND@SAMPLES[:key=value,...]`:

    dynamics@10000                                  the task's default dynamics change
    dynamics@10000:target=forearm,scale=1.3         reacher-7dof: forearm length x 1.3
    dynamics@5000:target=mass,scale=1.5,body=torso  one body's mass and inertia x 1.5
    dynamics@5000:target=damping,scale=2            every joint's damping x 2
    goals@8000                                      the task's default goal shift
    goals@8000:dx=0,dy=-1.2,dz=0                    reacher-7dof: goal box moved by (dx, dy, dz)

`dynamics` targets: `mass` (params scale = 1.5, body = all) and `damping` (scale = 2, joint =
all) on any MuJoCo task, recompiled through MjSpec (`stackelberg.worlds.mujoco_edit`), plus the task's
own (`Task.dynamics_targets`, e.g. reacher-7dof's `forearm`). Without a target the task's
`default_dynamics_target` is changed (`mass` unless the task says otherwise). `goals` needs the
task's `Task.goal_shift`. Unspecified parameters take their defaults; `resolve` fills them in, so
logs always show the full change. Mass and damping scale the current values (two perturbations
compound); a task's own changes (forearm, goals) are set relative to its nominal world.

Default sizes: mass x1.5 (a 50% heavier body is a large but physical change; the arm or robot
still moves), damping x2 (twice the joint friction visibly slows every motion). The reacher's
forearm x1.3 and goal box are documented in `tasks/reacher.py`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import gymnasium as gym

from stackelberg.core.errors import UserInputError
from stackelberg.worlds.mujoco_edit import NotEditableError, edit_model, scale_damping, scale_mass
from stackelberg.tasks import ParamValue, Task, WorldChange

KINDS = ("dynamics", "goals")
SYNTAX = "KIND@SAMPLES[:key=value,...]"
EXAMPLES = ("dynamics@10000", "dynamics@5000:target=mass,scale=1.5,body=torso", "goals@8000")
MASS_SCALE = 1.5
DAMPING_SCALE = 2.0
_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _scale_mass(env: gym.Env, p: Mapping[str, ParamValue]) -> None:
    edit_model(env, lambda spec: scale_mass(spec, float(p["scale"]), str(p["body"])))


def _scale_damping(env: gym.Env, p: Mapping[str, ParamValue]) -> None:
    edit_model(env, lambda spec: scale_damping(spec, float(p["scale"]), str(p["joint"])))


GENERIC_TARGETS: dict[str, WorldChange] = {
    "mass": WorldChange(_scale_mass, {"scale": MASS_SCALE, "body": ""},
                        "mass and inertia of every body (or of `body`) x scale, recompiled"),
    "damping": WorldChange(_scale_damping, {"scale": DAMPING_SCALE, "joint": ""},
                           "damping of every joint (or of `joint`) x scale, recompiled"),
}


@dataclass(frozen=True)
class Perturbation:
    """Change the world once `at_samples` real environment steps have been collected."""

    kind: str  # "dynamics" | "goals"
    at_samples: int
    params: dict[str, ParamValue] = field(default_factory=dict)

    def to_text(self) -> str:
        """The CLI form; `parse_perturbation(p.to_text()) == p`."""
        head = f"{self.kind}@{self.at_samples}"
        if not self.params:
            return head
        return head + ":" + ",".join(f"{k}={format_value(v)}" for k, v in self.params.items())

    def __str__(self) -> str:
        return self.to_text()


def format_value(value: ParamValue) -> str:
    """Shortest text that parses back to the same value (2.0 -> "2", 1.3 -> "1.3")."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _syntax_error(text: str, problem: str) -> UserInputError:
    return UserInputError(f"bad perturbation {text!r}: {problem}. Expected {SYNTAX} with KIND one "
                          f"of {', '.join(KINDS)}, e.g. {', '.join(EXAMPLES)}")


def _parse_value(text: str, key: str, raw: str) -> ParamValue:
    try:
        number = float(raw)
    except ValueError:
        return raw
    if not math.isfinite(number):
        raise _syntax_error(text, f"{key}={raw} is not a finite number")
    return number


def parse_perturbation(text: str) -> Perturbation:
    """Parse `KIND@SAMPLES[:key=value,...]`; numbers become floats, anything else stays text.
    Raises `UserInputError` naming what is wrong, with the valid syntax and kinds."""
    if not isinstance(text, str) or not text.strip():
        raise _syntax_error(str(text), "it is empty")
    head, colon, tail = text.strip().partition(":")
    kind, at, samples = head.partition("@")
    kind, samples = kind.strip().lower(), samples.strip()
    if not at:
        raise _syntax_error(text, "no '@SAMPLES' after the kind")
    if kind not in KINDS:
        raise _syntax_error(text, f"unknown kind {kind!r}")
    try:
        at_samples = int(samples)
    except ValueError:
        raise _syntax_error(text, f"SAMPLES must be a whole number of samples, got {samples!r}") from None
    if at_samples < 0:
        raise _syntax_error(text, f"SAMPLES must be >= 0, got {at_samples}")
    params: dict[str, ParamValue] = {}
    if colon:
        if not tail.strip():
            raise _syntax_error(text, "nothing after ':'")
        for item in tail.split(","):
            key, eq, raw = (part.strip() for part in item.partition("="))
            if not eq or not raw or not _KEY.match(key):
                raise _syntax_error(text, f"{item.strip()!r} is not key=value")
            if key in params:
                raise _syntax_error(text, f"{key} is given twice")
            params[key] = _parse_value(text, key, raw)
    return Perturbation(kind, at_samples, params)


# --- resolving against a task ---------------------------------------------------------------

def dynamics_targets(task: Task) -> dict[str, WorldChange]:
    """The `dynamics` targets a task takes: mass and damping, plus its own."""
    return {**GENERIC_TARGETS, **task.dynamics_targets}


def _tasks_with_goal_shift() -> list[str]:
    from stackelberg import tasks

    found = []
    for name in tasks.names():
        try:
            if tasks.make(name).goal_shift is not None:
                found.append(name)
        except Exception:  # a task whose assets are missing here says so when it is used
            continue
    return found


def _change_for(task: Task, p: Perturbation) -> tuple[WorldChange, dict[str, ParamValue]]:
    """The world change a perturbation means for `task`, and its params without `target`."""
    params = dict(p.params)
    if p.kind == "goals":
        if task.goal_shift is None:
            raise UserInputError(f"{p.to_text()}: task {task.name!r} has no goal distribution to "
                                 f"shift (Task.goal_shift is None); tasks with one: "
                                 f"{', '.join(_tasks_with_goal_shift()) or 'none'}")
        return task.goal_shift, params
    targets = dynamics_targets(task)
    target = str(params.pop("target", task.default_dynamics_target))
    if target not in targets:
        raise UserInputError(f"{p.to_text()}: task {task.name!r} has no dynamics target "
                             f"{target!r}; valid targets: {', '.join(sorted(targets))}")
    return targets[target], params


def resolve(task: Task, p: Perturbation) -> Perturbation:
    """`p` with every parameter explicit (defaults filled in, `target` named for dynamics), so
    that logs and checkpoints say exactly what changed. Raises `UserInputError` on a target or
    parameter the task does not take."""
    change, given = _change_for(task, p)
    unknown = [k for k in given if k not in change.defaults]
    if unknown:
        what = "goals" if p.kind == "goals" else f"dynamics target {_target(task, p)!r}"
        raise UserInputError(f"{p.to_text()}: {what} of task {task.name!r} takes "
                             f"{', '.join(change.defaults) or 'no parameters'}; "
                             f"unknown: {', '.join(unknown)}")
    params: dict[str, ParamValue] = {}
    if p.kind == "dynamics":
        params["target"] = _target(task, p)
    for key, default in change.defaults.items():
        value = given.get(key, default)
        if isinstance(default, (int, float)):
            if not isinstance(value, (float, int)):
                raise UserInputError(f"{p.to_text()}: {key} must be a number, got {value!r}")
            value = float(value)
        else:
            value = format_value(value)
        if value != "":
            params[key] = value
    return Perturbation(p.kind, p.at_samples, params)


def _target(task: Task, p: Perturbation) -> str:
    return str(p.params.get("target", task.default_dynamics_target))


def apply_perturbation(task: Task, env: gym.Env, p: Perturbation) -> Perturbation:
    """Change `env`'s world as `p` says; returns `p` resolved. Raises `UserInputError` if the
    task or env cannot take it (the env is then unchanged)."""
    resolved = resolve(task, p)
    change, params = _change_for(task, resolved)
    try:
        change.apply(env, {**change.defaults, **params})
    except NotEditableError as err:
        raise UserInputError(f"{resolved.to_text()}: task {task.name!r} cannot take a dynamics "
                             f"change: {err}") from None
    except ValueError as err:
        raise UserInputError(f"{resolved.to_text()} on task {task.name!r}: {err}") from None
    return resolved


def check_perturbations(task: Task, perturbations: Sequence[Perturbation]) -> list[Perturbation]:
    """Fail early: resolve every perturbation and apply them, in firing order, to a throwaway
    env of the task. Returns them resolved (in the given order)."""
    resolved = [resolve(task, p) for p in perturbations]
    if resolved:
        env = task.make_env(None)
        try:
            for p in sorted(resolved, key=lambda q: q.at_samples):
                apply_perturbation(task, env, p)
        finally:
            env.close()
    return resolved


class PerturbationPlan:
    """A game's perturbations: which are due, which have fired (resolved, in firing order).

    Firing changes every env it is given (the game's training and evaluation envs) once. A
    resumed game gets freshly built envs, so `restore` applies what had fired to them again.
    """

    def __init__(self, task: Task, perturbations: Sequence[Perturbation | str] = ()):
        given = [p if isinstance(p, Perturbation) else parse_perturbation(p) for p in perturbations]
        self.task = task
        resolved = check_perturbations(task, given) if given else []
        self.pending: list[Perturbation] = sorted(resolved, key=lambda p: p.at_samples)
        self.fired: list[Perturbation] = []

    def fire(self, samples: int, envs: Sequence[gym.Env]) -> list[Perturbation]:
        """Apply, once, every pending perturbation with `at_samples <= samples`."""
        due = [p for p in self.pending if p.at_samples <= samples]
        for p in due:
            for env in envs:
                apply_perturbation(self.task, env, p)
            self.pending.remove(p)
            self.fired.append(p)
        return due

    def fired_texts(self) -> list[str]:
        return [p.to_text() for p in self.fired]

    def restore(self, fired_texts: Sequence[str], envs: Sequence[gym.Env]) -> None:
        """Re-apply what had fired (in order) to fresh envs and stop it from firing again."""
        if self.fired:
            raise RuntimeError("restore needs fresh envs; this plan already changed its envs")
        for text in fired_texts:
            p = resolve(self.task, parse_perturbation(text))
            for env in envs:
                apply_perturbation(self.task, env, p)
            match = next((q for q in self.pending if q == p), None)
            if match is not None:
                self.pending.remove(match)
            self.fired.append(p)
