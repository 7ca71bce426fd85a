"""Configs of the model players: the deterministic ensemble ([P] Tables 2-3, `[model]`) and
MBPO's probabilistic ensemble (`[probabilistic_model]`). Plain dataclasses, no torch import."""
from __future__ import annotations

from dataclasses import dataclass

from stackelberg.core.errors import UserInputError


FIT_PRECISIONS = ("auto", "float32", "bfloat16")
ACTIVATIONS = ("swish", "relu")  # the probabilistic ensemble's hidden units


@dataclass
class ModelConfig:
    """Deterministic dynamics ensemble ([P] Tables 2-3)."""

    ensemble_size: int = 4
    hidden_sizes: tuple[int, ...] = (512, 512)
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 200
    # [P] writes sigma (a spread from the data); [mjrl] uses the mean absolute deviation.
    normalization: str = "std"  # "std" | "mad"
    clamp_state: float = 100.0  # predicted states are clamped to +-this ([mjrl] large_value)
    # Learn the wrapped change of the task's wrapped-angle coordinates (Task.angle_dims) and wrap
    # the prediction; false = [mjrl]'s plain s' - s on every coordinate. Applies to both model
    # players (the MBPO ensemble too).
    wrap_angles: bool = True
    # Train on every real transition and its mirror image under the task's symmetry
    # (Task.symmetry; DClaw-Turn has one). Not in [P]: it widens the model's data to the turning
    # direction the policy has not tried yet. Doubles the data per epoch, so halve model_epochs
    # to keep the fit cost.
    augment_symmetry: bool = False
    # Precision of the fit's forward and backward passes. "bfloat16" runs them under CPU/CUDA
    # autocast (weights, Adam and the loss stay float32): 1.8x faster training steps on a CPU
    # with AVX512-BF16 and the same held-out loss (runs/notes/dclaw-investigation.md 7.21).
    # Prediction is always float32. "auto" (ours; [P]'s code is float32) becomes "bfloat16" for
    # the deterministic ensemble on a CPU with native bfloat16 (AVX512-BF16 or AMX), else
    # "float32"; the run's config.toml records which, so a resume elsewhere plays the same game.
    fit_precision: str = "auto"  # "auto" | "float32" | "bfloat16"
    # Early stopping on held-out real trajectories (not in [P], whose fit runs the schedule's
    # epochs): this fraction of the buffer's trajectories is held out of the fit; after every
    # epoch each member's held-out loss is checked, training stops once no member improved by
    # more than `holdout_threshold` (relative) for more than `holdout_patience` epochs, and
    # each member goes back to its best epoch. The schedule's epochs become an upper bound.
    # 0 = [P]'s fixed epochs (the default). 0.2 fits PAL's buffer in ~1/10 of the steps with a
    # lower loss on fresh data, but PAL then learns DKitty-Orient slower (3 seeds; RESULTS, Speed).
    holdout_fraction: float = 0.0
    holdout_patience: int = 5
    holdout_threshold: float = 0.01

    def validate(self) -> None:
        """The rules a TOML type check cannot state; a `UserInputError` naming the field."""
        checks = [
            (self.ensemble_size >= 1, "model.ensemble_size must be >= 1"),
            (self.batch_size >= 1, "model.batch_size must be >= 1"),
            (self.lr > 0, "model.lr must be positive"),
            (self.normalization in ("std", "mad"), "model.normalization must be 'std' or 'mad'"),
            (self.fit_precision in FIT_PRECISIONS,
             f"model.fit_precision must be one of {', '.join(FIT_PRECISIONS)}, got {self.fit_precision!r}"),
            (all(h > 0 for h in self.hidden_sizes), "model.hidden_sizes must be positive"),
            (0 <= self.holdout_fraction < 1, "model.holdout_fraction must be in [0, 1)"),
            (self.holdout_patience >= 0, "model.holdout_patience must be >= 0"),
            (0 <= self.holdout_threshold < 1, "model.holdout_threshold must be in [0, 1)"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(message)


@dataclass
class ProbabilisticModelConfig:
    """MBPO's probabilistic ensemble (algorithms sheet 4.4)."""

    ensemble_size: int = 7
    num_elites: int = 5
    hidden_sizes: tuple[int, ...] = (200, 200, 200, 200)
    # added to the loss as wd * 0.5 * ||W||^2 per layer, input -> output (one per weight matrix)
    weight_decays: tuple[float, ...] = (2.5e-5, 5e-5, 7.5e-5, 7.5e-5, 1e-4)
    lr: float = 1e-3
    batch_size: int = 256
    holdout_ratio: float = 0.2
    max_holdout: int = 5000
    # a member improves when (best - current) / best > this; its weights are then snapshotted
    improvement_threshold: float = 0.01
    # stop when no member improved for more than this many consecutive epochs
    patience: int = 5
    init_max_logvar: float = 0.5
    init_min_logvar: float = -10.0
    logvar_bound_coef: float = 0.01  # loss += coef * (sum max_logvar - sum min_logvar)
    bootstrap: bool = True  # each member trains on its own with-replacement resample
    activation: str = "swish"  # hidden units: "swish" (MBPO's) or "relu" (MEMB's)

    def validate(self) -> None:
        from stackelberg.core.errors import UserInputError

        checks = [
            (self.ensemble_size >= 1, "ensemble_size must be >= 1"),
            (1 <= self.num_elites <= self.ensemble_size, "num_elites must be in [1, ensemble_size]"),
            (len(self.weight_decays) == len(self.hidden_sizes) + 1,
             "weight_decays needs one value per layer (len(hidden_sizes) + 1)"),
            (all(h > 0 for h in self.hidden_sizes), "hidden_sizes must be positive"),
            (self.lr > 0, "lr must be positive"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (0 <= self.holdout_ratio < 1, "holdout_ratio must be in [0, 1)"),
            (self.patience >= 0, "patience must be >= 0"),
            (self.init_min_logvar < self.init_max_logvar, "init_min_logvar must be < init_max_logvar"),
            (self.activation in ACTIVATIONS,
             f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserInputError(f"probabilistic model: {message}")


def fit_in_bfloat16(precision: str, device_type: str) -> bool:
    """Whether a fit with `model.fit_precision = precision` runs in bfloat16 on a device of
    `device_type` ("cpu", "cuda"). "auto": on a CPU with native bfloat16 only
    (`stackelberg.config.fit_precision_for` records the same choice in a run's config)."""
    from stackelberg.core.process import cpu_has_native_bfloat16

    if precision == "auto":
        return device_type == "cpu" and cpu_has_native_bfloat16()
    return precision == "bfloat16"
