"""Edit a running MuJoCo env's model through `mujoco.MjSpec` and recompile it.

Writing new numbers into `env.model` (say `body_mass`) leaves everything the compiler derives
from them stale: inertias, the tree's composite inertias, the actuator length ranges. Editing the
spec and recompiling keeps the model consistent. This module does that for any env whose
`unwrapped` either

- has its own `edit_model(edit)` (an env built from a spec in code, e.g. reacher-7dof), or
- has `model`, `data` and `fullpath` (the model file), as gymnasium's and gymnasium-robotics'
  `MujocoEnv` do. What the env changed in its model at run time (goal markers, actuator gains)
  is carried over with `MjSpec.copy_back`; the new model is installed with the simulation state
  kept, `init_qpos`/`init_qvel` untouched and the renderer's viewers dropped.
"""
from __future__ import annotations

import math
from typing import Callable, Protocol, cast

import gymnasium as gym
import mujoco
import numpy as np

SpecEdit = Callable[[mujoco.MjSpec], None]
_SPEC = "_stackelberg_mjspec"  # where the spec of an edited env's current model is kept


class _Simulated(Protocol):
    """What a recompiled model is installed into: gymnasium's `MujocoEnv` declares these, but
    `gym.Env` (the type of `env.unwrapped`) does not."""

    model: mujoco.MjModel
    data: mujoco.MjData


class NotEditableError(ValueError):
    """The env is not a MuJoCo env this module can recompile."""


def edit_model(env: gym.Env, edit: SpecEdit) -> None:
    """Apply `edit` to the spec of `env`'s current model, recompile and install the result.
    Edits accumulate over calls; if `edit` or the compiler fails, the env is left unchanged."""
    world = env.unwrapped
    own = getattr(world, "edit_model", None)
    if callable(own):
        own(edit)
        return
    model, data = getattr(world, "model", None), getattr(world, "data", None)
    if not isinstance(model, mujoco.MjModel) or not isinstance(data, mujoco.MjData):
        raise NotEditableError(f"{type(world).__name__} is not a MuJoCo env (no MjModel in "
                               f"env.unwrapped.model)")
    spec = _current_spec(world)
    try:
        spec.copy_back(model)
    except ValueError as err:
        raise NotEditableError(f"{type(world).__name__} changed its model in a way MjSpec cannot "
                               f"express, so it cannot be recompiled: {err}") from None
    edited = spec.copy()
    edit(edited)
    new_model, new_data = edited.recompile(model, data)
    setattr(world, _SPEC, edited)
    _install(cast(_Simulated, world), new_model, new_data)  # model and data checked above


def _current_spec(world: gym.Env) -> mujoco.MjSpec:
    spec = getattr(world, _SPEC, None)
    if spec is not None:
        return spec
    path = getattr(world, "fullpath", None)
    if not path:
        raise NotEditableError(f"{type(world).__name__} does not say which model file it loaded "
                               f"(no `fullpath`), so its model cannot be recompiled")
    spec = mujoco.MjSpec.from_file(str(path))
    spec.compile()  # `copy_back` compares against the model this spec compiles to
    return spec


def _install(world: _Simulated, model: mujoco.MjModel, data: mujoco.MjData) -> None:
    """Swap the simulation; a renderer keeps no viewer of the old model (it reopens lazily)."""
    world.model, world.data = model, data
    renderer = getattr(world, "mujoco_renderer", None)
    if renderer is not None:
        renderer.close()
        renderer.model, renderer.data = model, data
        if hasattr(renderer, "_viewers"):
            renderer._viewers = {}
        if hasattr(renderer, "viewer"):
            renderer.viewer = None


# --- edits ----------------------------------------------------------------------------------

def _names(elements) -> list[str]:
    return [e.name for e in elements if e.name]


def scale_mass(spec: mujoco.MjSpec, scale: float, body: str = "") -> None:
    """Multiply the mass and inertia of one body (by name) or of every body by `scale`.

    Scales what the compiler derives them from, whichever it uses: each geom's density (and
    mass, if given) and the body's explicit inertial. The centres of mass do not move."""
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"mass scale must be a positive number, got {scale}")
    world = spec.worldbody.name
    if body:
        chosen = [b for b in spec.bodies if b.name == body and b.name != world]
        if not chosen:
            raise ValueError(f"no body named {body!r}; bodies: "
                             f"{', '.join(n for n in _names(spec.bodies) if n != world)}")
    else:
        chosen = [b for b in spec.bodies if b.name != world]
    for b in chosen:
        for geom in b.geoms:
            geom.density = geom.density * scale
            if math.isfinite(geom.mass) and geom.mass > 0:
                geom.mass = geom.mass * scale
        b.mass = b.mass * scale
        b.inertia = np.asarray(b.inertia) * scale
        full = np.asarray(b.fullinertia)
        if np.all(np.isfinite(full)):
            b.fullinertia = full * scale


def scale_damping(spec: mujoco.MjSpec, scale: float, joint: str = "") -> None:
    """Multiply the damping of one joint (by name) or of every joint by `scale`."""
    if not (math.isfinite(scale) and scale >= 0):
        raise ValueError(f"damping scale must be a non-negative number, got {scale}")
    chosen = [j for j in spec.joints if j.name == joint] if joint else list(spec.joints)
    if joint and not chosen:
        raise ValueError(f"no joint named {joint!r}; joints: {', '.join(_names(spec.joints))}")
    if not any(np.any(np.asarray(j.damping) != 0) for j in chosen):
        what = f"joint {joint!r} has no damping" if joint else "no joint of this model has damping"
        raise ValueError(f"{what} to scale (a multiple of 0 is 0); try target=mass")
    for j in chosen:
        j.damping = np.asarray(j.damping) * scale
