"""runs/scripts/carry_runs.py carries a run to a fresh machine through git: the carried checkpoint
leaves its replay buffer to data/, and the restored checkpoint equals the original exactly (a
resume from it is the original's resume); a data file that changed is refused."""
import shutil

import numpy as np
import pytest
import torch

from stackelberg.cli import run
from stackelberg.core.errors import UserInputError
from test_kill_resume import ARGS, assert_same


def test_a_carried_run_is_restored_exactly_and_a_changed_data_file_is_refused(tmp_path, carry):
    folder = tmp_path / "out" / "group" / "pal-s0"
    assert run.main([*ARGS, "--set", "schedule.buffer_capacity=600", "--out", str(folder)]) == 0
    original = torch.load(folder / "checkpoint.pt", weights_only=True)
    assert original["replay"]["trajectories"]  # the buffer that is left out and rebuilt

    carried = carry.save(folder)
    kept = torch.load(carried / "checkpoint.pt", weights_only=True)
    assert kept["replay"]["trajectories"] == []
    assert sorted(p.name for p in (carried / "data").iterdir()) == \
        [f"iter_{i:04d}.npz" for i in range(original["iteration"])]

    shutil.move(folder, tmp_path / "original")
    restored = carry.restore(carried)
    assert restored == folder
    assert_same(original, torch.load(folder / "checkpoint.pt", weights_only=True))

    shutil.rmtree(folder)
    last = carried / "data" / f"iter_{original['iteration'] - 1:04d}.npz"
    with np.load(last) as f:
        arrays = dict(f)
    arrays["reward"] = arrays["reward"] + 1
    np.savez(last, **arrays)
    with pytest.raises(UserInputError, match="differs from the checkpoint"):
        carry.restore(carried)
    assert not folder.exists()


@pytest.fixture
def big_run(tmp_path):
    """A finished run whose checkpoint is over 5 MB (a DClaw PAL checkpoint is 15 MB)."""
    folder = tmp_path / "out" / "group" / "pal-s0"
    assert run.main([*ARGS, "--samples", "500", "--out", str(folder)]) == 0
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    state["model"]["padding"] = torch.randn(3 * 1024 * 1024)  # 12 MB of float32
    torch.save(state, folder / "checkpoint.pt")
    return folder


def test_a_checkpoint_over_5_mb_is_carried_in_parts_and_rejoined_exactly(tmp_path, carry, big_run):
    original = torch.load(big_run / "checkpoint.pt", weights_only=True)
    carried = carry.save(big_run)
    parts = sorted(carried.glob("checkpoint.pt.part*"))
    assert [p.name for p in parts] == ["checkpoint.pt.part000", "checkpoint.pt.part001",
                                       "checkpoint.pt.part002", "checkpoint.pt.parts"]
    assert not (carried / "checkpoint.pt").exists()
    assert all(p.stat().st_size <= 5_000_000 for p in carried.rglob("*") if p.is_file())
    joined = carry.read_carried(carried / "checkpoint.pt")
    assert joined == b"".join(p.read_bytes() for p in parts[:3])  # byte for byte, in order
    assert len(joined) > 12 * 1024 * 1024
    shutil.move(big_run, tmp_path / "original")
    assert carry.main(["restore"]) == 0  # found by its manifest
    assert_same(original, torch.load(big_run / "checkpoint.pt", weights_only=True))
    assert not list(big_run.glob("*.part*"))


@pytest.mark.parametrize("damage,message", [
    (lambda c: (c / "checkpoint.pt.part001").unlink(), "checkpoint.pt.part001 is missing"),
    (lambda c: (c / "checkpoint.pt.part002").write_bytes(b"x" + (c / "checkpoint.pt.part002").read_bytes()[1:]),
     "checkpoint.pt.part002 differs from the one saved"),
])
def test_a_missing_or_altered_part_is_refused_by_name(tmp_path, carry, big_run, capsys, damage,
                                                      message):
    carried = carry.save(big_run)
    shutil.rmtree(big_run)
    damage(carried)
    capsys.readouterr()
    assert carry.main(["restore", str(carried)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not big_run.exists()


def test_every_carried_file_over_the_limit_is_split(tmp_path, carry, monkeypatch):
    folder = tmp_path / "out" / "group" / "pal-s0"
    assert run.main([*ARGS, "--samples", "500", "--out", str(folder)]) == 0
    monkeypatch.setattr(carry, "MAX_BYTES", 1000)
    carried = carry.save(folder)
    assert not (carried / "checkpoint.pt").exists() and (carried / "checkpoint.pt.parts").exists()
    assert all(p.stat().st_size <= 1000 for p in carried.rglob("*.part[0-9]*"))
    assert (folder / "checkpoint.pt").exists()
    shutil.move(folder, tmp_path / "original")
    carry.restore(carried)
    for name in ["config.toml", "metrics.csv", "policy_best.pt", "data/iter_0000.npz",
                 "data/iter_0001.npz"]:
        assert (folder / name).read_bytes() == (tmp_path / "original" / name).read_bytes(), name


def test_drop_deletes_only_the_carried_copy_even_when_given_the_run_folder(tmp_path, carry):
    run_folder = tmp_path / "out" / "group" / "pal-s0"
    (run_folder / "data").mkdir(parents=True)
    (run_folder / "metrics.csv").write_text("samples\n1\n")
    carried = tmp_path / "carry" / "group" / "pal-s0"
    carried.mkdir(parents=True)
    (carried / "metrics.csv").write_text("samples\n1\n")

    assert carry.drop(run_folder) == carried  # the run's path names its carried copy
    assert not carried.exists()
    assert (run_folder / "metrics.csv").exists()  # the finished run is kept

    with pytest.raises(UserInputError, match="nothing dropped"):
        carry.drop(carried)
    with pytest.raises(UserInputError, match="is not a carried run"):
        carry.drop(tmp_path / "elsewhere")
    with pytest.raises(UserInputError, match="is not a carried run"):
        carry.drop(tmp_path / "carry")
    assert run_folder.exists()
