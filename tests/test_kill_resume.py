"""A real `python -m stackelberg.run` process SIGKILLed at several points and resumed with
`--resume` ends with the metrics, checkpoints (last, previous, best policy and its return) of an
uninterrupted run and every collected sample on disk; unreadable checkpoints fall back to
checkpoint_prev.pt or fail with a one-line error, and a missing data file is refused."""
import csv
import math
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from stackelberg.cli import run
from stackelberg.runner.run_folder import load_checkpoint

# tests/test_cli.py's tiny settings; 2000 samples = 8 iterations of a fraction of a second
ARGS = ["--samples", "2000", "--initial-samples", "250", "--samples-per-iteration", "250",
        "--model-epochs", "1", "--model-min-steps", "5", "--policy-steps", "1", "--eval-episodes", "1",
        "--set", "npg.num_trajectories=8", "--set", "npg.horizon_cap=20",
        "--set", "model.hidden_sizes=32,32", "--threads", "1", "--no-progress"]

# `python -m stackelberg.run` whose checkpoint writes stall halfway, so a kill can land inside one
SLOW_CHECKPOINT = r"""
import io, sys, time, torch
real_save = torch.save
def slow_save(obj, f, *args, **kwargs):
    if not str(getattr(f, "name", "")).endswith("checkpoint.pt.tmp"):
        return real_save(obj, f, *args, **kwargs)
    buffer = io.BytesIO()
    real_save(obj, buffer, *args, **kwargs)
    data = buffer.getvalue()
    f.write(data[: len(data) // 2])
    f.flush()
    time.sleep(120)
    f.write(data[len(data) // 2:])
torch.save = slow_save
from stackelberg.cli.run import main
sys.exit(main(sys.argv[1:]))
"""


def rows_without_timing(folder):
    rows = list(csv.DictReader(open(folder / "metrics.csv")))
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]


def saved_samples(folder):
    return sum(len(np.load(p)["obs"]) for p in (folder / "data").glob("*.npz"))


def assert_same(a, b, where="checkpoint"):
    """Two saved states are equal: tensors and numbers exactly (NaN where the other has NaN),
    containers recursively; the metrics' timing columns are the only values allowed to differ."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        nan = a.isnan() if a.is_floating_point() else torch.zeros_like(a, dtype=torch.bool)
        assert torch.equal(nan, b.isnan() if b.is_floating_point() else nan) \
            and torch.equal(a[~nan], b[~nan]), where
    elif isinstance(a, dict):
        keys = [k for k in a if "seconds" not in str(k)]
        assert keys == [k for k in b if "seconds" not in str(k)], where
        for k in keys:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b), where
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def assert_same_files(out, reference):
    """checkpoint.pt, checkpoint_prev.pt and policy_best.pt as the uninterrupted run has them."""
    for name in ("checkpoint.pt", "checkpoint_prev.pt", "policy_best.pt"):
        assert_same(load_checkpoint(out / name), load_checkpoint(reference / name), name)
    best = load_checkpoint(out / "checkpoint.pt")["best_return"]
    assert best == load_checkpoint(out / "policy_best.pt")["eval_return"]
    assert best == max(float(r["eval_return"]) for r in csv.DictReader(open(out / "metrics.csv")))


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    torch.set_num_threads(1)
    assert run.main(ARGS + ["--out", str(out)]) == 0
    return out


def start(argv, slow_checkpoint=False):
    head = ["-c", SLOW_CHECKPOINT] if slow_checkpoint else ["-m", "stackelberg.run"]
    return subprocess.Popen([sys.executable, *head, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def kill_when(proc, condition, what, timeout=120.0):
    """SIGKILL `proc` as soon as `condition()` holds; fail if it finished or never got there."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the run ended (exit {proc.returncode}) before {what}:\n{proc.stdout.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, what
    return proc.stdout.read()


def test_sigkill_at_four_points_then_resume_equals_uninterrupted_run(tmp_path, reference):
    out = tmp_path / "run"
    resume = ["--resume", "--out", str(out), "--no-progress"]
    ckpt = out / "checkpoint.pt"

    # 1. as soon as the first data file is on disk (usually before any checkpoint exists)
    kill_when(start(ARGS + ["--out", str(out)]), lambda: (out / "data" / "iter_0000.npz").exists(),
              "the first data file")
    # 2. as soon as the fourth data file is on disk
    kill_when(start(resume), lambda: (out / "data" / "iter_0003.npz").exists(), "iter_0003.npz")
    # 3. right after a checkpoint has been written (a new file replaces the old one)
    inode = ckpt.stat().st_ino

    def new_checkpoint():
        try:
            return ckpt.stat().st_ino != inode
        except FileNotFoundError:
            return False

    kill_when(start(resume), new_checkpoint, "a new checkpoint")
    # 4. in the middle of writing a checkpoint
    tmp = out / "checkpoint.pt.tmp"
    kill_when(start(resume, slow_checkpoint=True),
              lambda: tmp.exists() and tmp.stat().st_size > 0, "a checkpoint being written")
    assert tmp.exists()  # the half-written file is left behind ...
    load_checkpoint(ckpt)  # ... and the checkpoint it was going to replace is intact

    finish = start(resume)
    log, _ = finish.communicate(timeout=300)
    assert finish.returncode == 0, log
    assert "Traceback" not in log

    assert rows_without_timing(out) == rows_without_timing(reference)
    assert_same_files(out, reference)
    final = int(rows_without_timing(out)[-1]["samples"])
    assert saved_samples(out) == final == load_checkpoint(ckpt)["samples"]  # no sample lost
    assert len(list((out / "data").glob("*.npz"))) == len(rows_without_timing(out))
    assert not [p for p in out.rglob("*") if ".tmp" in p.name]  # every partial write was redone


def test_resume_without_any_checkpoint_starts_again_exactly(tmp_path, reference):
    """A run killed in its first iteration may leave data and even a metrics row, but no
    checkpoint: --resume starts it again, which is exact."""
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "500", "--out", str(out)]) == 0
    (out / "checkpoint.pt").unlink()
    (out / "checkpoint_prev.pt").unlink()
    assert run.main(["--resume", "--out", str(out), "--samples", "2000", "--no-progress"]) == 0
    assert rows_without_timing(out) == rows_without_timing(reference)


def test_unreadable_checkpoint_falls_back_to_the_previous_one(tmp_path, reference, capsys):
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "1000", "--out", str(out)]) == 0
    ckpt, prev = out / "checkpoint.pt", out / "checkpoint_prev.pt"
    assert load_checkpoint(prev)["iteration"] == load_checkpoint(ckpt)["iteration"] - 1
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])  # truncated
    capsys.readouterr()
    assert run.main(["--resume", "--out", str(out), "--samples", "2000", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert f"warning: cannot read {ckpt}" in err and "using checkpoint_prev.pt instead" in err
    assert rows_without_timing(out) == rows_without_timing(reference)
    assert_same_files(out, reference)
    assert saved_samples(out) == load_checkpoint(ckpt)["samples"]


@pytest.mark.parametrize("damage", ["truncated", "foreign"])
def test_no_readable_checkpoint_is_a_one_line_error(tmp_path, damage, capsys):
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "500", "--out", str(out)]) == 0
    for path in (out / "checkpoint.pt", out / "checkpoint_prev.pt"):
        if damage == "truncated":
            path.write_bytes(path.read_bytes()[:1000])
        else:
            torch.save({"weights": torch.zeros(3)}, path)
    capsys.readouterr()
    assert run.main(["--resume", "--out", str(out), "--samples", "1000", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot read") and "\n" not in err
    assert "No usable checkpoint" in err
    if damage == "foreign":
        assert "not a run checkpoint" in err


def test_unreadable_checkpoint_exit_code_of_the_real_command(tmp_path):
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "500", "--out", str(out)]) == 0
    (out / "checkpoint_prev.pt").unlink()
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    proc = subprocess.run([sys.executable, "-m", "stackelberg.run", "--resume", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "error: cannot read" in proc.stderr and "Traceback" not in proc.stderr


def test_best_policy_and_previous_checkpoint_survive_a_resume(tmp_path, reference):
    """Stopped after 1,000 samples and resumed: the best return in the checkpoint, the best
    policy and the previous checkpoint are the uninterrupted run's (the best return was once
    stored before it was updated, and a resumed run kept a worse policy)."""
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "1000", "--out", str(out)]) == 0
    assert run.main(["--resume", "--out", str(out), "--samples", "2000", "--no-progress"]) == 0
    assert rows_without_timing(out) == rows_without_timing(reference)
    assert_same_files(out, reference)


def test_a_missing_data_file_is_refused_until_it_is_back(tmp_path, reference, capsys):
    """Resuming would rewrite only the data of the iterations it replays: a data file deleted
    from an earlier iteration would stay missing, so the resume refuses, naming it."""
    out = tmp_path / "run"
    assert run.main(ARGS + ["--samples", "1000", "--out", str(out)]) == 0
    data = out / "data" / "iter_0001.npz"
    kept = tmp_path / "kept.npz"
    shutil.move(data, kept)
    capsys.readouterr()
    assert run.main(["--resume", "--out", str(out), "--samples", "2000", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"error: {data} is missing" in err
    assert "put the file back" in err and not data.exists()
    shutil.move(kept, data)
    assert run.main(["--resume", "--out", str(out), "--samples", "2000", "--no-progress"]) == 0
    assert saved_samples(out) == load_checkpoint(out / "checkpoint.pt")["samples"]
    assert rows_without_timing(out) == rows_without_timing(reference)


def test_an_interrupt_inside_torchs_writer_stays_an_interrupt(tmp_path, monkeypatch):
    """A stop signal that lands inside torch.save makes torch's zip writer fail in its clean-up
    with a RuntimeError chained to the interrupt; the save must re-raise the interrupt (so the run
    takes its interrupted path) and leave no temporary file."""
    from stackelberg.runner import run_folder

    def save_interrupted_midway(obj, f):
        try:
            raise KeyboardInterrupt("signal 15")
        finally:
            raise RuntimeError("[enforce fail at inline_container.cc] unexpected pos")

    monkeypatch.setattr(run_folder.torch, "save", save_interrupted_midway)
    with pytest.raises(KeyboardInterrupt, match="signal 15"):
        run_folder.atomic_torch_save({"x": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []

    def save_failing(obj, f):
        raise RuntimeError("disk full")

    monkeypatch.setattr(run_folder.torch, "save", save_failing)
    with pytest.raises(RuntimeError, match="disk full"):  # a plain failure stays what it was
        run_folder.atomic_torch_save({"x": 1}, tmp_path / "checkpoint.pt")
    assert list(tmp_path.iterdir()) == []
