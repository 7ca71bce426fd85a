"""`--stop-at METRIC=VALUE`: the run ends after the first complete bin of evaluations whose mean
reaches the target (the bins of `report --bins`), with a checkpoint there; a resume of a run
that has reached it collects nothing more until the rule is lifted."""
import math
import random

import pytest
import torch

from stackelberg.cli import run
from stackelberg.core.errors import UserInputError
from stackelberg.runner.stop_rule import parse_stop_at, target_bin
from test_kill_resume import ARGS


def brute_force(rows, metric, value, window):
    """Every bin below the newest row's, in order: the first whose mean reaches the value."""
    newest = max(int(r["samples"]) for r in rows) // window
    for k in range(newest):
        values = [float(r[metric]) for r in rows
                  if k * window <= int(r["samples"]) < (k + 1) * window
                  and not math.isnan(float(r[metric]))]
        if values and sum(values) / len(values) >= value:
            return k * window, sum(values) / len(values)
    return None


def test_the_target_bin_is_the_first_complete_bin_whose_mean_reaches_the_value():
    rng = random.Random(0)
    for _ in range(300):
        samples, rows = 0, []
        for _ in range(rng.randint(1, 30)):
            samples += rng.randint(50, 900)
            success = rng.choice([0.0, 0.2, 0.6, 1.0, math.nan])
            rows.append({"samples": str(samples), "eval_success": str(success)})
        value, window = rng.choice([0.5, 0.9]), rng.choice([500, 1000, 2000])
        expected = brute_force(rows, "eval_success", value, window)
        got = target_bin(rows, "eval_success", value, window)
        assert (got is None) == (expected is None)
        if got is not None:
            assert got[0] == expected[0] and got[1] == pytest.approx(expected[1])


def test_the_bin_still_being_filled_does_not_count():
    rows = [{"samples": 900, "eval_success": 1.0}, {"samples": 1100, "eval_success": 1.0}]
    assert target_bin(rows[:1], "eval_success", 0.9, 1000) is None
    assert target_bin(rows, "eval_success", 0.9, 1000) == (0, 1.0)


@pytest.mark.parametrize("text,message", [
    ("eval_success", "give METRIC=VALUE"), ("model_return=3", "METRIC one of eval_return"),
    ("eval_return=high", "'high' is not a finite number"), ("eval_return=nan", "not a finite")])
def test_a_malformed_target_is_refused_by_name(text, message):
    with pytest.raises(UserInputError, match=message):
        parse_stop_at(text)
    assert parse_stop_at("eval_success=0.9") == ("eval_success", 0.9)


def test_a_run_stops_at_its_target_with_a_checkpoint_and_a_resume_adds_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    # every evaluation reaches -1e9; the first evaluation (at 261 samples) is in bin [250, 500),
    # which is complete once the second (at 525) has passed it
    argv = [*ARGS, "--stop-at", "eval_return=-1e9", "--set", "run.stop_window=250"]
    assert run.main([*argv, "--out", str(out)]) == 0
    assert "target reached (eval_return" in capsys.readouterr().err
    rows = (out / "metrics.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[1]) for r in rows] == [261, 525]
    state = torch.load(out / "checkpoint.pt", weights_only=True)
    assert state["iteration"] == len(state["metrics"]) == len(rows)
    assert run.main(["--resume", "--out", str(out), "--no-progress"]) == 0
    assert (out / "metrics.csv").read_text().splitlines()[1:] == rows
    assert run.main(["--resume", "--out", str(out), "--no-progress", "--samples", "2000",
                     "--set", "run.stop_metric="]) == 0
    assert len((out / "metrics.csv").read_text().splitlines()) > len(rows) + 1


def test_a_success_target_on_a_task_without_success_is_exit_2(tmp_path, capsys):
    assert run.main([*ARGS, "--stop-at", "eval_success=0.9", "--out", str(tmp_path / "r")]) == 2
    assert "has no success test" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
