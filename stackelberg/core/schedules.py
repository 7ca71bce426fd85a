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


@dataclass
class Schedule:
    """How the two players take turns and how far each moves per turn: the algorithm as data.

    `PAL()`, `MAL()`, `GDA()` and `BR()` build the paper's four; every field is a TOML key of
    `[schedule]` and a CLI flag. The fields are samples per iteration N, initial samples, the
    replay buffer's capacity B, the model fit's epochs and step bounds, and the policy's
    improvement steps K."""

    name: str = "pal"
    # True: the policy improves on M_k before the model fits this iteration's data (GDA, BR).
    simultaneous: bool = False
    initial_samples: int = 2500
    # samples collected per iteration; None = min(samples_horizon_multiple * H_env, samples_cap)
    samples_per_iteration: Optional[int] = None
    samples_horizon_multiple: int = 5
    samples_cap: int = 1000
    buffer_capacity: Optional[int] = 2500  # transitions; None = keep everything
    model_epochs: int = 100
    model_min_steps: int = 100
    model_max_steps: int = 100_000
    npg_steps: int = 4

    def samples_for(self, horizon: int) -> int:
        if self.samples_per_iteration is not None:
            return self.samples_per_iteration
        return min(self.samples_horizon_multiple * horizon, self.samples_cap)

    def validate(self) -> None:
        positive = ["initial_samples", "samples_horizon_multiple", "samples_cap", "model_epochs",
                    "model_max_steps", "npg_steps"]
        for key in positive:
            if getattr(self, key) <= 0:
                raise UserInputError(f"schedule.{key} must be positive, got {getattr(self, key)}")
        if self.samples_per_iteration is not None and self.samples_per_iteration <= 0:
            raise UserInputError("schedule.samples_per_iteration must be positive (or none)")
        if self.buffer_capacity is not None and self.buffer_capacity <= 0:
            raise UserInputError("schedule.buffer_capacity must be positive (or none = unbounded)")
        if self.model_min_steps < 0 or self.model_min_steps > self.model_max_steps:
            raise UserInputError("schedule.model_min_steps must be in [0, model_max_steps]")


def PAL(**overrides) -> Schedule:
    """Policy as leader: aggressive model (B=2500, 100 epochs), conservative policy (K=4)."""
    return replace(Schedule(name="pal"), **overrides)


def MAL(**overrides) -> Schedule:
    """Model as leader: conservative model (all data, 10 epochs), aggressive policy (K=25)."""
    base = Schedule(name="mal", initial_samples=5000, samples_horizon_multiple=20,
                    samples_cap=3000, buffer_capacity=None, model_epochs=10, npg_steps=25)
    return replace(base, **overrides)


def GDA(**overrides) -> Schedule:
    """Gradient descent-ascent: simultaneous, both conservative (policy K=4, model as MAL's)."""
    base = Schedule(name="gda", simultaneous=True, buffer_capacity=None, model_epochs=10,
                    npg_steps=4)
    return replace(base, **overrides)


def BR(**overrides) -> Schedule:
    """Best response: simultaneous, both aggressive (policy K=25, model as PAL's)."""
    base = Schedule(name="br", simultaneous=True, buffer_capacity=2500, model_epochs=100,
                    npg_steps=25)
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
