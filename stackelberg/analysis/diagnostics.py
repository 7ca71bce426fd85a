"""Model-error amplification ([P] appendix B.3, Figure 6).

A one-step model error is small by construction (the model player minimises it), but the policy
player plans over many steps, and what it sees is the error *compounded* along a trajectory:

    L(t) = E || c(s_t^W) - c(s_t^M) ||,   t = 0..T,   s_0^W = s_0^M ~ the env's reset distribution,

with c the measured state component (the full state by default). Two ways to roll the model:

* open loop: the policy acts in the world; exactly its actions are replayed in the model, so the
  model is never corrected by feedback and errors accumulate freely;
* closed loop: the policy acts in each of the world and the model on its own states. A good policy
  steers back towards where it wants to be, which can damp model errors, so [P] expect (and
  report) closed-loop error below open-loop error.

The policy acts with its mean action in both, so the gap is model error, not action noise. Each
world trajectory stops at real termination; later look-aheads average over the start states
still alive. All ensemble members roll in one batched `model.step` call and are reported one by
one, so a band over members shows how much they disagree.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union

import numpy as np
import torch

from stackelberg.core.model_env import SyntheticPaths, model_rollouts, replayed
from stackelberg.models.angles import wrap_to_pi
from stackelberg.core.errors import UserInputError
from stackelberg.tasks import Task

StateFn = Callable[[torch.Tensor], torch.Tensor]  # states (..., obs_dim) -> (..., k)


class Actor(Protocol):
    def act(self, obs: torch.Tensor, deterministic: bool = False) -> torch.Tensor: ...


class Stepper(Protocol):
    ensemble_size: int

    def step(self, obs: torch.Tensor, act: torch.Tensor) -> torch.Tensor: ...


# --- what part of the state is measured -------------------------------------------------------

@dataclass(frozen=True)
class Component:
    """The part of the state the error is measured on.

    `fn` maps states (..., obs_dim) to (..., k). With `periodic`, differences are wrapped to
    [-pi, pi): an angle computed with atan2 jumps from +pi to -pi, which is no error at all.
    `periodic_dims` wraps only those of the k outputs (a task's `angle_dims` in a full state).
    """

    name: str
    fn: StateFn
    periodic: bool = False
    periodic_dims: tuple[int, ...] = ()

    def distance(self, world: torch.Tensor, model: torch.Tensor) -> torch.Tensor:
        """Euclidean norm of the component difference; broadcasts over leading dimensions."""
        diff = self.fn(model) - self.fn(world)
        if self.periodic:
            diff = wrap_to_pi(diff)
        elif self.periodic_dims:
            dims = list(self.periodic_dims)
            diff = diff.clone()
            diff[..., dims] = wrap_to_pi(diff[..., dims])
        return diff.norm(dim=-1)


FULL_STATE = Component("full state", lambda s: s)


def index_component(indices: Sequence[int], obs_dim: Optional[int] = None,
                    name: Optional[str] = None) -> Component:
    """Observation coordinates by index (negative indices count from the end)."""
    idx = [int(i) for i in indices]
    if not idx:
        raise UserInputError("a component needs at least one state index")
    if obs_dim is not None:
        bad = [i for i in idx if not -obs_dim <= i < obs_dim]
        if bad:
            raise UserInputError(f"state index {bad[0]} is out of range: observations have "
                                 f"{obs_dim} dims (valid 0..{obs_dim - 1})")
    label = name or f"obs[{', '.join(map(str, idx))}]"
    return Component(label, lambda s: s[..., idx])


def angle_component(cos_index: int, sin_index: int, name: str = "angle (rad)") -> Component:
    """An angle observed as (cos, sin), compared in radians with wrap-around."""
    return Component(name, lambda s: torch.atan2(s[..., sin_index], s[..., cos_index]).unsqueeze(-1),
                     periodic=True)


# The coordinate [P] would plot for a task (Figure 6 plots only DClaw's valve angle).
_TASK_COMPONENTS: dict[str, Component] = {
    "inverted-pendulum": index_component([1], name="pole angle (rad)"),
    "hopper": index_component([1], name="torso angle (rad)"),
    "dclaw-turn": angle_component(9, 10, "valve angle (rad)"),
    "dclaw-turn-fixed": angle_component(9, 10, "valve angle (rad)"),
    "dclaw-turn-vel": angle_component(9, 10, "valve angle (rad)"),
}


def register_task_component(task_name: str, component: Component) -> None:
    """Declare a task's relevant coordinate, used by `--component task`."""
    _TASK_COMPONENTS[task_name] = component


def task_component(task_name: str) -> Optional[Component]:
    return _TASK_COMPONENTS.get(task_name)


ComponentSpec = Union[None, Component, StateFn, Sequence[int]]


def resolve_component(spec: ComponentSpec, obs_dim: Optional[int] = None,
                      angle_dims: Sequence[int] = ()) -> Component:
    """None -> full state; a Component as is; a callable -> Component; a list -> indices.
    The task's wrapped-angle coordinates (`angle_dims`) are compared with wrap-around."""
    if spec is None:
        return replace(FULL_STATE, periodic_dims=tuple(angle_dims))
    if isinstance(spec, Component):
        return spec
    if callable(spec):
        return Component(getattr(spec, "__name__", "component"), spec)
    comp = index_component(spec, obs_dim)
    if obs_dim is not None and angle_dims:
        wrapped = {i % obs_dim for i in angle_dims}
        dims = tuple(k for k, i in enumerate(spec) if int(i) % obs_dim in wrapped)
        comp = replace(comp, periodic_dims=dims)
    return comp


# --- rollouts ---------------------------------------------------------------------------------

@dataclass
class WorldPaths:
    """Deterministic-policy trajectories in the real env, padded to a common length."""

    states: torch.Tensor  # (N, T + 1, obs_dim): s_0..s_T, zeros after the end
    actions: torch.Tensor  # (N, T, act_dim): the policy's actions (unclipped), zeros after the end
    valid: torch.Tensor  # (N, T + 1) bool: state t was really visited (the terminal state too)


def _clamp(act: torch.Tensor, limit: Optional[float]) -> torch.Tensor:
    return act if limit is None else act.clamp(-limit, limit)


@torch.no_grad()
def world_paths(task: Task, policy: Actor, starts: int, horizon: int, seed: int = 0,
                action_clamp: Optional[float] = None) -> WorldPaths:
    """Run `starts` envs in lockstep (one batched policy call per step); env i is reset with
    seed `seed + i`. Like data collection, the env gets the action clipped to its bounds and the
    recorded action is the unclipped one, which is what the model was trained on."""
    envs = [task.make_env(seed + i) for i in range(starts)]
    try:
        first = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
        obs = torch.as_tensor(np.stack(first), dtype=torch.float32)
        states = torch.zeros(starts, horizon + 1, task.obs_dim)
        actions = torch.zeros(starts, horizon, task.act_dim)
        valid = torch.zeros(starts, horizon + 1, dtype=torch.bool)
        states[:, 0], valid[:, 0] = obs, True
        alive = [True] * starts
        for t in range(horizon):
            act = _clamp(policy.act(obs, deterministic=True).cpu().float(), action_clamp)
            for i, env in enumerate(envs):
                if not alive[i]:
                    continue
                clipped = np.clip(act[i].numpy().astype(np.float64), task.act_low, task.act_high)
                nxt, _, terminated, truncated, _ = env.step(clipped)
                actions[i, t] = act[i]
                obs[i] = torch.as_tensor(np.asarray(nxt), dtype=torch.float32)
                states[i, t + 1], valid[i, t + 1] = obs[i], True
                alive[i] = not (terminated or truncated)
            if not any(alive):
                break
    finally:
        for env in envs:
            env.close()
    return WorldPaths(states, actions, valid)


def _on_cpu(model: Stepper) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return lambda obs, act: model.step(obs, act).cpu()


def open_loop_paths(model: Stepper, task: Task, paths: WorldPaths) -> SyntheticPaths:
    """The world's actions replayed in every member from the world's start states, to the
    horizon whatever the model's termination says (member-major, as `model_rollouts`)."""
    return model_rollouts(_on_cpu(model), replayed(paths.actions), task, paths.states[:, 0],
                          model.ensemble_size, paths.actions.shape[1], None, to_horizon=True)


def closed_loop_paths(model: Stepper, task: Task, policy: Actor, start_states: torch.Tensor,
                      horizon: int, action_clamp: Optional[float] = None) -> SyntheticPaths:
    """The policy's mean action on the model's own states in every member, to the horizon."""
    act = lambda obs: policy.act(obs, deterministic=True).cpu().float()
    return model_rollouts(_on_cpu(model), act, task, start_states, model.ensemble_size, horizon,
                          action_clamp, to_horizon=True)


def member_states(paths: SyntheticPaths, ensemble_size: int) -> torch.Tensor:
    """Member-major paths' states as (E, N, T + 1, obs_dim)."""
    states = paths.states()
    return states.reshape(ensemble_size, -1, *states.shape[1:])


def open_loop_states(model: Stepper, task: Task, paths: WorldPaths) -> torch.Tensor:
    """`open_loop_paths`' states: (E, N, T + 1, obs_dim)."""
    return member_states(open_loop_paths(model, task, paths), model.ensemble_size)


def closed_loop_states(model: Stepper, task: Task, policy: Actor, start_states: torch.Tensor,
                       horizon: int, action_clamp: Optional[float] = None) -> torch.Tensor:
    """`closed_loop_paths`' states: (E, N, T + 1, obs_dim)."""
    return member_states(closed_loop_paths(model, task, policy, start_states, horizon,
                                           action_clamp), model.ensemble_size)


def error_curves(world: WorldPaths, model_states: torch.Tensor, component: Component) -> torch.Tensor:
    """Per-member L(t), averaged over the start states whose world trajectory reached t.
    (E, N, T + 1, d) -> (E, T + 1); NaN where no world trajectory is left."""
    dist = component.distance(world.states.unsqueeze(0), model_states)  # (E, N, T + 1)
    valid = world.valid.unsqueeze(0)
    total = torch.where(valid, dist, torch.zeros_like(dist)).sum(1)
    count = world.valid.sum(0).to(dist.dtype)
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


# --- the diagnostic ---------------------------------------------------------------------------

@dataclass
class ErrorAmplification:
    """L(t) per ensemble member for open and closed loop, t = 0..T."""

    open_loop: torch.Tensor  # (E, T + 1)
    closed_loop: torch.Tensor  # (E, T + 1)
    alive: torch.Tensor  # (T + 1,) how many start states the average at t is over
    component: str
    starts: int

    @property
    def horizon(self) -> int:
        return self.open_loop.shape[1] - 1

    def curve(self, loop: str) -> torch.Tensor:
        """Member-averaged L(t) of "open" or "closed" loop."""
        return {"open": self.open_loop, "closed": self.closed_loop}[loop].mean(0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ErrorAmplification":
        """The inverse of `to_dict` (None -> NaN): a diagnose JSON redrawn without its run."""
        def tensor(rows: Sequence[Sequence[Optional[float]]]) -> torch.Tensor:
            return torch.tensor([[math.nan if v is None else v for v in row] for row in rows])

        return cls(open_loop=tensor(data["open_loop"]["members"]),
                   closed_loop=tensor(data["closed_loop"]["members"]),
                   alive=torch.tensor(data["alive"]), component=str(data["component"]),
                   starts=int(data["starts"]))

    def to_dict(self) -> dict:
        """JSON-ready numbers (NaN -> None)."""
        def lst(x: torch.Tensor) -> list:
            return [None if math.isnan(v) else v for v in x.tolist()]

        out = {"component": self.component, "starts": self.starts, "horizon": self.horizon,
               "alive": self.alive.tolist()}
        for loop, per in (("open_loop", self.open_loop), ("closed_loop", self.closed_loop)):
            out[loop] = {"mean": lst(per.mean(0)), "min": lst(per.min(0).values),
                         "max": lst(per.max(0).values), "members": [lst(m) for m in per]}
        return out


def model_error_amplification(policy: Actor, model: Stepper, task: Task, starts: int = 16,
                              horizon: Optional[int] = None, component: ComponentSpec = None,
                              seed: int = 0, action_clamp: Optional[float] = None
                              ) -> ErrorAmplification:
    """Open- and closed-loop model error of `model` under `policy` on `task`.

    `horizon` defaults to the policy's planning horizon (`policy.horizon` if it has one) and is
    capped at the task's episode length. `action_clamp` mirrors the clamp of the policy's own
    model rollouts (NPGConfig.action_clamp) so the model sees the actions it is planned with.
    """
    if starts < 1:
        raise UserInputError("starts must be >= 1")
    horizon = horizon if horizon is not None else getattr(policy, "horizon", task.horizon)
    if horizon < 1:
        raise UserInputError("horizon must be >= 1")
    horizon = min(int(horizon), task.horizon)
    comp = resolve_component(component, task.obs_dim, task.angle_dims)
    world = world_paths(task, policy, starts, horizon, seed, action_clamp)
    open_states = open_loop_states(model, task, world)
    closed_states = closed_loop_states(model, task, policy, world.states[:, 0], horizon,
                                       action_clamp)
    return ErrorAmplification(open_loop=error_curves(world, open_states, comp),
                              closed_loop=error_curves(world, closed_states, comp),
                              alive=world.valid.sum(0), component=comp.name, starts=starts)
