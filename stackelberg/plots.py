"""Learning-curve figures (matplotlib, headless)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_learning_curve(rows: Sequence[dict], path: Path, title: str) -> None:
    """Evaluation return J(pi,W) and predicted return J(pi,M) vs samples; success rate if any."""
    samples = [r["samples"] for r in rows]
    has_success = any(not math.isnan(float(r["eval_success"])) for r in rows)
    fig, axes = plt.subplots(1, 2 if has_success else 1, figsize=(10 if has_success else 6, 4),
                             squeeze=False)
    ax = axes[0, 0]
    ax.plot(samples, [r["eval_return"] for r in rows], marker="o", label="J(pi, W) evaluation")
    ax.plot(samples, [r["model_return"] for r in rows], ls="--", label="J(pi, M) model prediction")
    ax.set_xlabel("environment samples"); ax.set_ylabel("return"); ax.grid(alpha=0.3); ax.legend()
    if has_success:
        ax = axes[0, 1]
        ax.plot(samples, [r["eval_success"] for r in rows], marker="o")
        ax.set_xlabel("environment samples"); ax.set_ylabel("success rate"); ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
