"""Settings of the model players: the deterministic ensemble ([P] Tables 2-3, `[model]`) and
MBPO's probabilistic ensemble (`[probabilistic_model]`). Plain dataclasses, no torch import;
each knob's limits and resume rule are declared on its field (`core.knobs`)."""
from __future__ import annotations

from dataclasses import dataclass

from stackelberg.core import hardware
from stackelberg.core.knobs import knob

FIT_PRECISIONS = ("auto", "float32", "bfloat16")
ACTIVATIONS = ("swish", "relu")  # the probabilistic ensemble's hidden units


@dataclass
class ModelConfig:
    """Deterministic dynamics ensemble ([P] Tables 2-3)."""

    ensemble_size: int = knob(4, "ensemble members", limits=">= 1")
    hidden_sizes: tuple[int, ...] = knob((512, 512), "hidden layer widths", limits=">= 1")
    lr: float = knob(1e-3, "Adam step size", limits="> 0", resumable=True)
    weight_decay: float = knob(0.0, "Adam weight decay", limits=">= 0", resumable=True)
    batch_size: int = knob(200, "transitions per fit step", limits=">= 1")
    # [P] writes sigma (a spread from the data); [mjrl] uses the mean absolute deviation.
    normalization: str = knob("std", "input/target scale: std or mad", choices=("std", "mad"))
    clamp_state: float = knob(100.0, "predicted states are clamped to +-this ([mjrl] large_value)",
                              limits="> 0")
    # Learn the wrapped change of the task's wrapped-angle coordinates (Task.angle_dims) and wrap
    # the prediction; false = [mjrl]'s plain s' - s on every coordinate.
    wrap_angles: bool = knob(True, "learn wrapped-angle coordinates' change wrapped")
    # Train on every real transition and its mirror image under the task's symmetry
    # (Task.symmetry; DClaw-Turn has one). Not in [P]: it widens the model's data to the turning
    # direction the policy has not tried yet. Doubles the data per epoch, so halve model_epochs
    # to keep the fit cost.
    augment_symmetry: bool = knob(False, "also fit each transition's mirror image")
    # Precision of the fit's forward and backward passes. "bfloat16" runs them under CPU/CUDA
    # autocast (weights, Adam and the loss stay float32): 1.8x faster training steps on a CPU
    # with AVX512-BF16 and the same held-out loss. Prediction is always float32. "auto" (ours;
    # [P]'s code is float32) becomes "bfloat16" on a CPU with native bfloat16 (AVX512-BF16 or
    # AMX), else "float32"; the run's config.toml records which, so a resume elsewhere plays the
    # same game. A record without this key ran in float32.
    fit_precision: str = knob("auto", "fit precision: auto, float32 or bfloat16",
                              choices=FIT_PRECISIONS, saved_without="float32")
    # Early stopping on held-out real trajectories (not in [P], whose fit runs the schedule's
    # epochs): this fraction of the buffer's trajectories is held out of the fit; after every
    # epoch each member's held-out loss is checked, training stops once no member improved by
    # more than `holdout_threshold` (relative) for more than `holdout_patience` epochs, and
    # each member goes back to its best epoch. The schedule's epochs become an upper bound.
    # 0 = [P]'s fixed epochs (the default). 0.2 fits PAL's buffer in ~1/10 of the steps with a
    # lower loss on fresh data, but PAL then learns DKitty-Orient slower (3 seeds; RESULTS, Speed).
    holdout_fraction: float = knob(0.0, "held-out share of trajectories (0 = fixed epochs)",
                                   limits="[0, 1)")
    holdout_patience: int = knob(5, "epochs without improvement before stopping", limits=">= 0")
    holdout_threshold: float = knob(0.01, "relative improvement that counts", limits="[0, 1)")


def settle_fit_precision(settings: ModelConfig, task: object, device_type: str, in_use: bool) -> None:
    """Record the precision the run fits in: "auto" is bfloat16 for the deterministic ensemble
    fitted on a CPU with native bfloat16, else float32."""
    if settings.fit_precision == "auto":
        native = in_use and fit_in_bfloat16("auto", device_type)
        settings.fit_precision = "bfloat16" if native else "float32"


@dataclass
class ProbabilisticModelConfig:
    """MBPO's probabilistic ensemble (algorithms sheet 4.4)."""

    ensemble_size: int = knob(7, "ensemble members", limits=">= 1")
    num_elites: int = knob(5, "members used for prediction", limits=">= 1")
    hidden_sizes: tuple[int, ...] = knob((200, 200, 200, 200), "hidden layer widths", limits=">= 1")
    # added to the loss as wd * 0.5 * ||W||^2 per layer, input -> output (one per weight matrix)
    weight_decays: tuple[float, ...] = knob((2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4),
                                            "per-layer weight decay", limits=">= 0")
    lr: float = knob(1e-3, "Adam step size", limits="> 0", resumable=True)
    batch_size: int = knob(256, "transitions per fit step", limits=">= 1")
    holdout_ratio: float = knob(0.2, "held-out share of transitions", limits="[0, 1)")
    max_holdout: int = knob(5000, "at most this many held-out transitions", limits=">= 0")
    improvement_threshold: float = knob(
        0.01, "a member improves when (best - current) / best > this", limits=">= 0")
    patience: int = knob(5, "stop when no member improved for more than this many epochs",
                         limits=">= 0")
    init_max_logvar: float = knob(0.5, "initial upper log-variance bound")
    init_min_logvar: float = knob(-10.0, "initial lower log-variance bound")
    logvar_bound_coef: float = knob(0.01, "loss += coef * (sum max_logvar - sum min_logvar)",
                                    limits=">= 0")
    bootstrap: bool = knob(True, "each member trains on its own with-replacement resample")
    # Learn wrapped-angle coordinates' change wrapped, as `[model]` does. Records written before
    # this section had the knob kept it in `model.wrap_angles` (`upgrade_probabilistic_record`).
    wrap_angles: bool = knob(True, "learn wrapped-angle coordinates' change wrapped")
    activation: str = knob("swish", "hidden units: swish (MBPO's) or relu (MEMB's)",
                           choices=ACTIVATIONS)

    def rules(self) -> list[tuple[bool, str]]:
        """The rules that tie fields together (each field's own limits are on the field)."""
        return [
            (self.num_elites <= self.ensemble_size, "num_elites must be in [1, ensemble_size]"),
            (len(self.weight_decays) == len(self.hidden_sizes) + 1,
             "weight_decays needs one value per layer (len(hidden_sizes) + 1)"),
            (self.init_min_logvar < self.init_max_logvar, "init_min_logvar must be < init_max_logvar"),
        ]


def upgrade_probabilistic_record(record: dict) -> None:
    """A record from before `[probabilistic_model]` had `wrap_angles`: the probabilistic
    ensemble read `model.wrap_angles`."""
    section, old = record.get("probabilistic_model"), record.get("model")
    if isinstance(section, dict) and isinstance(old, dict) and "wrap_angles" not in section \
            and "wrap_angles" in old:
        section["wrap_angles"] = old["wrap_angles"]


def fit_in_bfloat16(precision: str, device_type: str) -> bool:
    """Whether a fit with `model.fit_precision = precision` runs in bfloat16 on a device of
    `device_type` ("cpu", "cuda"). "auto": on a CPU with native bfloat16 only."""
    if precision == "auto":
        return device_type == "cpu" and hardware.cpu_has_native_bfloat16()
    return precision == "bfloat16"
