"""What a run leaves on disk: resolved config, metrics.csv, every collected transition,
atomic checkpoints (last and best) and the learning-curve PNG."""
from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from stackelberg.buffers import Trajectory
from stackelberg.game import IterationReport


def atomic_torch_save(obj: dict, path: Path) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: a crash mid-write
    leaves the previous file intact."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """Load without executing code (tensors and plain containers only)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class RunRecorder:
    def __init__(self, out_dir: Path, config_toml: str, title: str):
        self.out = Path(out_dir)
        (self.out / "data").mkdir(parents=True, exist_ok=True)
        config_path = self.out / "config.toml"
        if not config_path.exists() or config_path.read_text() != config_toml:
            config_path.write_text(config_toml)
        self.metrics_path = self.out / "metrics.csv"
        self.title = title
        self.rows: list[dict] = []
        self.best_return = -math.inf

    def save_data(self, iteration: int, trajectories: list[Trajectory]) -> None:
        """Every real transition, as soon as it is collected (numpy .npz, one file per iteration)."""
        lengths = np.array([len(t) for t in trajectories])
        cat = lambda key: torch.cat([getattr(t, key) for t in trajectories]).numpy()
        path = self.out / "data" / f"iter_{iteration:04d}.npz"
        tmp = path.with_name(path.stem + ".tmp.npz")
        np.savez(tmp, obs=cat("obs"), act=cat("act"), next_obs=cat("next_obs"),
                 reward=cat("reward"), lengths=lengths,
                 terminated=np.array([t.terminated for t in trajectories]))
        os.replace(tmp, path)

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint: its metrics replace whatever a killed run left behind."""
        self.rows = [dict(r) for r in state["metrics"]]
        self.best_return = float(state["best_return"])
        tmp = self.metrics_path.with_name("metrics.csv.tmp")
        with open(tmp, "w", newline="") as f:
            if self.rows:
                writer = csv.DictWriter(f, fieldnames=list(self.rows[0]))
                writer.writeheader()
                writer.writerows(self.rows)
        os.replace(tmp, self.metrics_path)

    def log(self, report: IterationReport) -> None:
        row = report.row()
        new = not self.metrics_path.exists()
        with open(self.metrics_path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        self.rows.append(row)

    def checkpoint(self, state: dict, report: IterationReport) -> None:
        """Game state plus the metrics so far: a resumed run rewrites metrics.csv from it."""
        state = {**state, "metrics": self.rows, "best_return": self.best_return}
        atomic_torch_save(state, self.out / "checkpoint.pt")
        if report.eval_return > self.best_return:
            self.best_return = report.eval_return
            atomic_torch_save({"policy": state["policy"], "iteration": report.iteration,
                               "eval_return": report.eval_return}, self.out / "policy_best.pt")

    def snapshot(self, state: dict, report: IterationReport) -> Path:
        """Policy and model of one iteration, kept for later diagnosis (stackelberg.diagnose)."""
        folder = self.out / "snapshots"
        folder.mkdir(exist_ok=True)
        path = folder / f"iter_{report.iteration:04d}.pt"
        atomic_torch_save({"policy": state["policy"], "model": state["model"],
                           "iteration": report.iteration, "samples": report.samples}, path)
        return path

    def plot(self, path: Optional[Path] = None) -> Path:
        from stackelberg.plots import plot_learning_curve

        path = path or self.out / "learning_curve.png"
        plot_learning_curve(self.rows, path, self.title)
        return path
