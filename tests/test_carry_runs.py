"""runs/scripts/carry_runs.py carries a run to a fresh machine through git: the carried checkpoint
leaves its replay buffer to data/, and the restored checkpoint equals the original exactly (a
resume from it is the original's resume); a data file that changed is refused."""
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from stackelberg.cli import run
from test_kill_resume import ARGS, assert_same

SCRIPT = Path(__file__).resolve().parents[1] / "runs" / "scripts" / "carry_runs.py"


@pytest.fixture
def carry(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("carry_runs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "OUT", tmp_path / "out")
    monkeypatch.setattr(module, "CARRY", tmp_path / "carry")
    return module


def test_a_carried_run_is_restored_exactly_and_a_changed_data_file_is_refused(tmp_path, carry):
    folder = tmp_path / "out" / "group" / "pal-s0"
    assert run.main([*ARGS, "--set", "schedule.buffer_capacity=600", "--out", str(folder)]) == 0
    original = torch.load(folder / "checkpoint.pt", weights_only=False)
    assert original["replay"]["trajectories"]  # the buffer that is left out and rebuilt

    carried = carry.save(folder)
    kept = torch.load(carried / "checkpoint.pt", weights_only=False)
    assert kept["replay"]["trajectories"] == []
    assert sorted(p.name for p in (carried / "data").iterdir()) == \
        [f"iter_{i:04d}.npz" for i in range(original["iteration"])]

    shutil.move(folder, tmp_path / "original")
    restored = carry.restore(carried)
    assert restored == folder
    assert_same(original, torch.load(folder / "checkpoint.pt", weights_only=False))

    shutil.rmtree(folder)
    last = carried / "data" / f"iter_{original['iteration'] - 1:04d}.npz"
    with np.load(last) as f:
        arrays = dict(f)
    arrays["reward"] = arrays["reward"] + 1
    np.savez(last, **arrays)
    with pytest.raises(SystemExit, match="differs from the checkpoint"):
        carry.restore(carried)
    assert not folder.exists()


def test_a_run_too_big_for_git_is_refused_and_nothing_is_left(tmp_path, carry, monkeypatch):
    folder = tmp_path / "out" / "group" / "pal-s0"
    assert run.main([*ARGS, "--samples", "500", "--out", str(folder)]) == 0
    monkeypatch.setattr(carry, "MAX_BYTES", 1000)
    with pytest.raises(SystemExit, match="checkpoint.pt is .* MB, over the 5 MB"):
        carry.save(folder)
    assert not (tmp_path / "carry" / "group" / "pal-s0").exists()
    assert (folder / "checkpoint.pt").exists()
