"""The four game solvers as data: turn order and how far each player moves per turn.

PAL and MAL share one turn order (collect -> fit the model -> improve the policy on the model
just fitted; [P] Algs. 3-4 are the same cycle with indices shifted) and differ in step sizes:
PAL's model moves aggressively on a small recent buffer and its policy conservatively; MAL the
opposite. GDA and BR are *simultaneous*: the policy step uses M_k, the model from before this
iteration's fit. Defaults are [P] Tables 2-3; GDA/BR follow the algorithms sheet section 3.1.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Optional

from stackelberg.core.errors import UserInputError
from stackelberg.core.knobs import knob


@dataclass
class Schedule:
    """How the two players take turns and how far each moves per turn: the algorithm as data.

    `PAL()`, `MAL()`, `GDA()` and `BR()` build the paper's four; every field is a TOML key of
    `[schedule]` and a CLI flag. The fields are samples per iteration N, initial samples, the
    replay buffer's capacity B, the model fit's epochs and step bounds, and the policy's
    improvement steps K."""

    name: str = knob("pal", "the algorithm (run.algo)", choices=lambda: sorted(SCHEDULES))
    simultaneous: bool = knob(False, "the policy improves on M_k before the model fits (GDA, BR)")
    initial_samples: int = knob(2500, "samples collected before the first iteration", limits=">= 1")
    samples_per_iteration: Optional[int] = knob(
        None, "samples per iteration; none = min(samples_horizon_multiple * H_env, samples_cap)",
        limits=">= 1")
    samples_horizon_multiple: int = knob(5, "samples per iteration in episode lengths", limits=">= 1")
    samples_cap: int = knob(1000, "at most this many samples per iteration", limits=">= 1")
    buffer_capacity: Optional[int] = knob(2500, "transitions the model fits on; none = all",
                                          limits=">= 1")
    # 0: the Game takes no fit step and only measures the model (a policy player that steps
    # the model as it goes, MEMB's per-step model training, moves it instead)
    model_epochs: int = knob(100, "model epochs per iteration (0 = no fit)", limits=">= 0",
                             resumable=True)
    model_min_steps: int = knob(100, "at least this many model steps per fit", limits=">= 0",
                                resumable=True)
    model_max_steps: int = knob(100_000, "at most this many model steps per fit", limits=">= 1",
                                resumable=True)
    policy_steps: int = knob(4, "policy improvement steps per iteration", limits=">= 1",
                          resumable=True)

    def samples_for(self, horizon: int) -> int:
        if self.samples_per_iteration is not None:
            return self.samples_per_iteration
        return min(self.samples_horizon_multiple * horizon, self.samples_cap)

    def rules(self) -> list[tuple[bool, str]]:
        """The rules that tie fields together (each field's own limits are on the field)."""
        return [(self.model_min_steps <= self.model_max_steps,
                 "model_min_steps must be in [0, model_max_steps]")]


def PAL(**overrides) -> Schedule:
    """Policy as leader: aggressive model (B=2500, 100 epochs), conservative policy (K=4)."""
    return replace(Schedule(name="pal"), **overrides)


def MAL(**overrides) -> Schedule:
    """Model as leader: conservative model (all data, 10 epochs), aggressive policy (K=25)."""
    base = Schedule(name="mal", initial_samples=5000, samples_horizon_multiple=20,
                    samples_cap=3000, buffer_capacity=None, model_epochs=10, policy_steps=25)
    return replace(base, **overrides)


def GDA(**overrides) -> Schedule:
    """Gradient descent-ascent: simultaneous, both conservative (policy K=4, model as MAL's)."""
    base = Schedule(name="gda", simultaneous=True, buffer_capacity=None, model_epochs=10,
                    policy_steps=4)
    return replace(base, **overrides)


def BR(**overrides) -> Schedule:
    """Best response: simultaneous, both aggressive (policy K=25, model as PAL's)."""
    base = Schedule(name="br", simultaneous=True, buffer_capacity=2500, model_epochs=100,
                    policy_steps=25)
    return replace(base, **overrides)


SCHEDULES: dict[str, Callable[..., Schedule]] = {"pal": PAL, "mal": MAL, "gda": GDA, "br": BR}


def make_schedule(name: str, **overrides) -> Schedule:
    """The schedule of the algorithm named `name` (pal, mal, gda or br), with `overrides`;
    an unknown name is a `UserInputError` listing the valid ones."""
    try:
        factory = SCHEDULES[name.lower()]
    except KeyError:
        raise UserInputError(
            f"unknown algorithm {name!r}; valid: {', '.join(SCHEDULES)}") from None
    return factory(**overrides)
