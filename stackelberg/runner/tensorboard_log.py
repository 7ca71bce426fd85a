"""Optional TensorBoard view of a run: every numeric column of metrics.csv, per iteration, as a
scalar at step = real environment samples (the axis runs are compared on). metrics.csv stays
the record; this mirrors it for people who live in TensorBoard. Needs the `tensorboard`
package (`pip install -e '.[tensorboard]'`)."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from stackelberg.core.errors import UserInputError

INSTALL_HINT = "pip install tensorboard (or pip install -e '.[tensorboard]')"


def require_tensorboard() -> None:
    """Fail before the run starts, with the command that fixes it."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError:
        raise UserInputError(f"run.tensorboard needs the tensorboard package: {INSTALL_HINT}; "
                             "or run without --tensorboard") from None


class TensorBoardLog:
    """Writes rows of metrics.csv to `log_dir`. A resumed run passes `resume_after` (the samples
    of the checkpoint it continues from): TensorBoard then drops the events a killed process
    wrote after that checkpoint, so the curve has no duplicated steps."""

    def __init__(self, log_dir: Path, resume_after: Optional[int] = None):
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        purge_step = None if resume_after is None else resume_after + 1
        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def log(self, row: dict) -> None:
        step = int(row["samples"])
        for key, value in row.items():
            if key == "samples":
                continue
            if isinstance(value, str):
                if value:  # e.g. the perturbation that fired before this iteration
                    self.writer.add_text(key, value, step)
                continue
            if isinstance(value, (bool, int, float)) and math.isfinite(float(value)):
                self.writer.add_scalar(key, float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
