"""`--tensorboard`: every numeric metrics.csv column lands in TensorBoard at step = samples, a
resumed run does not duplicate steps, and a missing package is a one-line error."""
import csv
import math
import sys

import pytest

from stackelberg.cli import run
from run_flags import FAST

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def scalars(log_dir):
    acc = event_accumulator.EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_every_metric_is_a_scalar_at_its_sample_count(tmp_path):
    out = tmp_path / "run"
    assert run.main(FAST + ["--tensorboard", "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    logged = scalars(out / "tensorboard")
    for tag in ("eval_return", "model_loss_fresh", "model_return", "policy_kl", "fit_seconds"):
        expected = [(int(r["samples"]), float(r[tag])) for r in rows if math.isfinite(float(r[tag]))]
        got = logged[tag]
        assert [s for s, _ in got] == [s for s, _ in expected]
        assert [v for _, v in got] == pytest.approx([v for _, v in expected], rel=1e-6)
    assert "samples" not in logged and "perturbation" not in logged


def test_resume_continues_the_same_curve(tmp_path):
    out = tmp_path / "run"
    assert run.main(FAST + ["--tensorboard", "--out", str(out)]) == 0
    assert run.main(["--resume", "--out", str(out), "--samples", "1000", "--no-progress"]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    steps = [s for s, _ in scalars(out / "tensorboard")["eval_return"]]
    assert steps == [int(r["samples"]) for r in rows] and len(steps) == len(set(steps))


def test_missing_tensorboard_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    assert run.main(FAST + ["--tensorboard", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "pip install tensorboard" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()
