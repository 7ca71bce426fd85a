"""Learning-curve figures (matplotlib, headless)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional, Sequence

from types import ModuleType


def pyplot() -> ModuleType:
    """matplotlib.pyplot on the Agg backend (files only: runs are headless): the one place
    that sets matplotlib up, for every figure the package draws."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot
    # pyplot loads the backend's C extension only at the first figure; load it here, so a
    # run that imports this module before its loop gets no ImportError from a stop signal
    # that lands inside that initialisation mid-training
    import matplotlib.backends.backend_agg  # noqa: F401

    return matplotlib.pyplot


plt = pyplot()


def _number(row: dict, key: str) -> float:
    """A metric as a float; rows read back from CSV hold text, and older runs lack new columns."""
    value = row.get(key, "")
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def perturbation_marks(rows: Sequence[dict]) -> list[tuple[float, str]]:
    """(samples when the world changed, what changed) from the `perturbation` column. A
    perturbation fires before its row's collection, so at the previous row's sample count."""
    marks = []
    for i, row in enumerate(rows):
        text = str(row.get("perturbation", "") or "")
        if text:
            marks.append((_number(rows[i - 1], "samples") if i else 0.0, text))
    return marks


def plot_learning_curve(rows: Sequence[dict], path: Path, title: str,
                        score_name: str = "score") -> None:
    """Evaluation return J(pi,W) and predicted return J(pi,M) vs samples; success rate and the
    task's evaluation score if any; a dashed line where a perturbation changed the world."""
    samples = [_number(r, "samples") for r in rows]
    panels: list[tuple[str, Optional[str]]] = [("return", None)]
    if any(not math.isnan(_number(r, "eval_success")) for r in rows):
        panels.append(("success rate", "eval_success"))
    if any(not math.isnan(_number(r, "eval_score")) for r in rows):
        panels.append((f"{score_name} (evaluation)", "eval_score"))
    fig, axes = plt.subplots(1, len(panels), figsize=(6 if len(panels) == 1 else 5 * len(panels), 4),
                             squeeze=False)
    for ax, (label, key) in zip(axes[0], panels):
        if key is None:
            ax.plot(samples, [_number(r, "eval_return") for r in rows], marker="o",
                    label="J(pi, W) evaluation")
            ax.plot(samples, [_number(r, "model_return") for r in rows], ls="--",
                    label="J(pi, M) model prediction")
        else:
            ax.plot(samples, [_number(r, key) for r in rows], marker="o")
        if key == "eval_success":
            ax.set_ylim(-0.05, 1.05)
        ax.set_xlabel("environment samples"); ax.set_ylabel(label); ax.grid(alpha=0.3)
    for n, (x, text) in enumerate(perturbation_marks(rows)):
        for ax in axes[0]:
            ax.axvline(x, color="tab:red", ls="--", lw=1,
                       label="world changed" if n == 0 and ax is axes[0, 0] else None)
        axes[0, 0].annotate(text, (x, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                            ha="right", va="top", fontsize=7, color="tab:red")
    axes[0, 0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
