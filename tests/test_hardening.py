"""Every bad input to `run`, `report`, `diagnose` and `sweep` is one line on stderr and exit code 2,
with no traceback and nothing written or changed; a resume may change step sizes and
bookkeeping (and says so), refuses other changes by name, and works on a moved folder."""
import hashlib
import os
import pickle
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

import pytest
import torch

from stackelberg.cli import report as report_cli
from stackelberg.cli import diagnose
from stackelberg import tasks
from stackelberg.cli import render as render_cli
from stackelberg.cli import run
from stackelberg.cli import sweep
from stackelberg.config import load_saved_config
from stackelberg.core.errors import UserInputError, error_line, make_output_dir
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.runner.run_folder import load_checkpoint
from run_flags import FAST

# every study's committed records: runs/<study>/records/**/{metrics.csv,config.toml}
RUNS = Path(__file__).resolve().parents[1] / "runs"
NOT_WRITABLE = "/proc/self/newdir"  # os.access says no, even for root


def tree(folder: Path) -> dict:
    """Every file under `folder` (but the empty run lock) with a hash of its bytes."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".lock"}


def assert_one_line_error(code, err, message):
    assert code == 2, err
    assert "Traceback" not in err, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert message in err, err


def call(main, argv, capsys):
    """`main(argv)` as the module entry point runs it (argparse exits through SystemExit)."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def done_run(tmp_path_factory):
    """A finished 500-sample run (two iterations, checkpoints, snapshots, data)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("done") / "run"
    assert run.main(FAST + ["--threads", "1", "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy_of(done_run, tmp_path):
    def make(name="run"):
        target = tmp_path / name
        shutil.copytree(done_run, target)
        return target
    return make


# --- run: a new run -----------------------------------------------------------------------------

def _file(tmp, name, content):
    path = tmp / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


NEW_RUN_CASES = {
    # id: (argv given the test's tmp folder, expected part of the message)
    "seed negative": (lambda t: ["--seed", "-1"], "run.seed must be in [0, 4294967295], got -1"),
    "seed 2**32": (lambda t: ["--seed", "4294967296"], "run.seed must be in [0, 4294967295]"),
    "threads negative": (lambda t: ["--threads", "-3"], "run.threads must be in [0, 4096], got -3"),
    "samples zero": (lambda t: ["--samples", "0"], "run.samples must be >= 1"),
    "samples 1e3 flag": (lambda t: ["--samples", "1e3"], "invalid int value: '1e3'"),
    "samples 1e3 --set": (lambda t: ["--set", "run.samples=1e3"], "run.samples must be int, got '1e3'"),
    "checkpoint_every 0": (lambda t: ["--set", "run.checkpoint_every=0"],
                           "run.checkpoint_every must be >= 1, got 0"),
    "delta inf": (lambda t: ["--set", "npg.delta=inf"], "npg.delta must be a finite float"),
    "delta nan": (lambda t: ["--set", "npg.delta=nan"], "npg.delta must be a finite float"),
    "hidden sizes empty": (lambda t: ["--set", "model.hidden_sizes="],
                           "model.hidden_sizes needs at least one layer size"),
    "hidden size zero": (lambda t: ["--set", "policy.hidden_sizes=64,0"],
                         "every entry of npg.policy_hidden_sizes must be >= 1"),
    "bool as text": (lambda t: ["--set", "run.tensorboard=maybe"], "run.tensorboard must be bool"),
    "device": (lambda t: ["--device", "cuda:x"], "run.device must be cpu, cuda or cuda:N"),
    "algo through --set": (lambda t: ["--set", "run.algo=mal"], "set the algorithm with --algo"),
    "unknown key": (lambda t: ["--set", "npg.deltaa=0.1"], "unknown config key 'npg.deltaa'"),
    "empty --set key": (lambda t: ["--set", "=3"], "--set expects SECTION.KEY=VALUE"),
    "perturbation beyond the budget": (
        lambda t: ["--task", "reacher-7dof", "--samples", "5000", "--perturb", "goals@8000"],
        "is due at or after the budget of 5000 samples"),
    "unknown flag": (lambda t: ["--bogus"], "unrecognized arguments: --bogus"),
    "bad choice": (lambda t: ["--algo", "xyz"], "invalid choice: 'xyz'"),
    "flag without value": (lambda t: ["--seed"], "expected one argument"),
    "config not UTF-8": (lambda t: ["--config", _file(t, "c.toml", b"[run]\nseed = 1\n\xff\xfe")],
                         "is not UTF-8 text"),
    "config binary": (lambda t: ["--config", _file(t, "c.toml", bytes(range(256)))], "c.toml"),
    "config is a folder": (lambda t: ["--config", str(t)], "is a folder, not a file"),
    "config seed true": (lambda t: ["--config", _file(t, "c.toml", "[run]\nseed = true\n")],
                         "run.seed must be int, got True"),
    "config seed float": (lambda t: ["--config", _file(t, "c.toml", "[run]\nseed = 5.0\n")],
                          "run.seed must be int, got 5.0"),
    "config task number": (lambda t: ["--config", _file(t, "c.toml", "[run]\ntask = 5\n")],
                           "run.task must be str, got 5"),
    "config threads": (lambda t: ["--config", _file(t, "c.toml", "[run]\nthreads = -3\n")],
                       "run.threads must be in [0, 4096]"),
    "config delta inf": (lambda t: ["--config", _file(t, "c.toml", "[npg]\ndelta = inf\n")],
                         "npg.delta must be a finite float"),
    "config hidden []": (lambda t: ["--config", _file(t, "c.toml", "[policy]\nhidden_sizes = []\n")],
                         "npg.policy_hidden_sizes needs at least one layer size"),
    "config run not a table": (lambda t: ["--config", _file(t, "c.toml", "run = 3\n")],
                               "[run] must be a table"),
    "config algo number": (lambda t: ["--config", _file(t, "c.toml", "[run]\nalgo = 3\n")],
                           "run.algo must be str"),
    "config control character": (
        lambda t: ["--config", _file(t, "c.toml", '[run]\nperturb = ["goals\\u0000@5"]\n')],
        "every entry of run.perturb must be text without control characters"),
    "out is a file": (lambda t: ["--out", _file(t, "file", "x")], "is a file, not a folder"),
    "out under a file": (lambda t: ["--out", _file(t, "file", "x") + "/run"], "is a file, not a folder"),
    "out not writable": (lambda t: ["--out", NOT_WRITABLE + "/run"], "is not writable"),
    "out name too long": (lambda t: ["--out", str(t / ("x" * 300))], "File name too long"),
    "out killed in iteration 0": (
        lambda t: ["--out", str(_killed_in_iteration_0(t))], "already holds a run (config.toml)"),
    "the suggested command is shell-quoted": (
        lambda t: ["--out", str(_killed_in_iteration_0(t, "a run"))],
        "resume it with --resume --out '"),
    "out empty": (lambda t: ["--out", ""], "argument --out: is empty"),
    "config path empty": (lambda t: ["--config", ""], "argument --config: is empty"),
    "out in use by a new run": (lambda t: ["--out", str(_held(t / "busy"))],
                                "is in use by another running process; choose another --out"),
    "num_trajectories beyond memory": (lambda t: ["--set", "npg.num_trajectories=1000000000000"],
                                       "npg.num_trajectories must be in [1, 1000000]"),
    "import empty": (lambda t: ["--import", ""], "cannot import '' (run.imports): not a module name"),
    "import relative": (lambda t: ["--import", "..m"], "cannot import '..m' (run.imports): not a module"),
    "import raises": (lambda t: _module(t, "h47_raises", "raise RuntimeError('no licence server')\n"),
                      "importing 'h47_raises' (run.imports) raised RuntimeError: no licence server"),
    "import syntax error": (lambda t: _module(t, "h47_syntax", "x = 1\ndef broken(:\n"),
                            "cannot import 'h47_syntax' (run.imports): invalid syntax in"),
    "import registers a taken task name": (
        lambda t: _module(t, "h47_taken", "from stackelberg import tasks\n"
                          "from stackelberg.tasks.gym_tasks import hopper\n"
                          "tasks.register('inverted-pendulum', hopper)\n"),
        "task 'inverted-pendulum' is already registered"),
    "a task whose make_env raises": (
        lambda t: _module(t, "h47_no_env", "import dataclasses\nfrom stackelberg import tasks\n"
                          "from stackelberg.tasks.gym_tasks import inverted_pendulum\n"
                          "def no_env(seed=None):\n    raise OSError('no display')\n"
                          "def broken():\n    return dataclasses.replace(inverted_pendulum(), "
                          "name='broken-env', make_env=no_env)\n"
                          "tasks.register('broken-env', broken)\n") + ["--task", "broken-env"],
        "task 'broken-env': make_env(0) raised OSError: no display"),
}

_HELD = []  # locks a "running process" keeps for the whole test session


def _held(folder):
    _HELD.append(run.lock_run_folder(folder, resume=False))
    return folder


def _module(tmp, name, source):
    """A user module in the test's folder (on sys.path there) and the flag importing it."""
    (tmp / f"{name}.py").write_text(source)
    return ["--import", name]


def _killed_in_iteration_0(tmp, name="killed"):
    out = tmp / name
    (out / "data").mkdir(parents=True)
    (out / "config.toml").write_text('[run]\ntask = "inverted-pendulum"\nalgo = "pal"\nseed = 5\n')
    (out / "data" / "iter_0000.npz").write_bytes(b"data")
    return out


@pytest.mark.parametrize("case", NEW_RUN_CASES)
def test_bad_input_to_a_new_run(case, tmp_path, capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))  # where the cases' user modules are
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # no __pycache__ in the folder
    monkeypatch.setattr(tasks, "_REGISTRY", dict(tasks._REGISTRY))  # no task outlives its case
    argv, message = NEW_RUN_CASES[case]
    argv = argv(tmp_path)
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "new")]
    before = tree(tmp_path)
    code, err = call(run.main, FAST + argv, capsys)
    assert_one_line_error(code, err, message)
    assert tree(tmp_path) == before
    assert not (tmp_path / "new").exists()


def test_a_foreign_error_is_quoted_on_one_line():
    assert error_line(OSError("no display\nDISPLAY is unset")) == "OSError: no display"
    assert error_line(ValueError("  \n")) == "ValueError"
    assert error_line(RuntimeError("x" * 500), limit=10) == "RuntimeError: " + "x" * 10


def test_a_folder_that_cannot_be_created_is_one_line(tmp_path, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(UserInputError, match="cannot create run folder .*: Read-only file system"):
        make_output_dir(tmp_path / "new", "run folder")


# --- run: --resume ------------------------------------------------------------------------------

def _edit_config(old, new):
    def edit(folder):
        path = folder / "config.toml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    return edit


def _without_config_in_checkpoints(folder):
    for name in ("checkpoint.pt", "checkpoint_prev.pt"):
        state = load_checkpoint(folder / name)
        del state["config"]
        torch.save(state, folder / name)


RESUME_CASES = {
    # id: (extra argv, edit of the copied folder or None, expected part of the message)
    "budget below what is done": (["--samples", "100"], None, "would cut its budget below them"),
    "seed": (["--seed", "3"], None, "--resume would change run.seed from 0 to 3"),
    "task": (["--task", "hopper"], None, "would change run.task"),
    "algorithm": (["--leader", "model"], None, "would change run.algo"),
    "a size": (["--set", "model.hidden_sizes=64,64"], None, "would change model.hidden_sizes"),
    "a size and more": (["--set", "model.ensemble_size=2", "--set", "npg.gamma=0.9"], None,
                        "(and npg.gamma)"),
    "a bad resumable value": (["--set", "npg.delta=-1"], None, "npg.delta must be > 0, got -1.0"),
    "--config": (["--config", "x.toml"], None, "drop --config"),
    "config.toml empty": ([], lambda f: (f / "config.toml").write_text(""),
                          "is not a run's config: it lacks run.task, run.algo, run.seed"),
    "config.toml not UTF-8": ([], lambda f: (f / "config.toml").write_bytes(b"\xff\xfe\x00"),
                              "is not UTF-8 text"),
    "config.toml unknown task": ([], _edit_config('task = "inverted-pendulum"', 'task = "nope"'),
                                 "run.task must be one of"),
    "config.toml seed edited": ([], _edit_config("seed = 0", "seed = 5"),
                                "was edited since checkpoint.pt: it would change run.seed from 0 to 5"),
    "config.toml size edited": ([], _edit_config("hidden_sizes = [\n    32,", "hidden_sizes = [\n    64,"),
                                "would change model.hidden_sizes"),
    "config.toml size edited, old checkpoint": (
        [], lambda f: (_without_config_in_checkpoints(f),
                       _edit_config("hidden_sizes = [\n    32,", "hidden_sizes = [\n    64,")(f)),
        "checkpoint.pt does not fit"),
    "a data file deleted": ([], lambda f: (f / "data" / "iter_0001.npz").unlink(),
                            "iter_0001.npz is missing"),
    "a data file replaced": ([], lambda f: shutil.copyfile(f / "data" / "iter_0000.npz",
                                                         f / "data" / "iter_0001.npz"),
                             "iter_0001.npz holds"),
    "a data file cut": ([], lambda f: (f / "data" / "iter_0000.npz").write_bytes(b"PK\x03\x04"),
                        "cannot read"),
    "a data file with NaN": ([], lambda f: _edit_data(f, "obs", lambda a: np.where(a == a[0, 0], np.nan, a)),
                             "iter_0001.npz has non-finite numbers (NaN or inf) in obs"),
    "a data file of another task": ([], lambda f: _edit_data(f, "obs", lambda a: np.hstack([a, a])),
                                    "iter_0001.npz has obs of shape"),
    "a data file with integer rewards": ([], lambda f: _edit_data(f, "reward", lambda a: a.astype(np.int64)),
                                         "has reward of shape"),
    "a data file without actions": ([], lambda f: _edit_data(f, "act", None), "has no act array"),
    "a resumable key edited and another": (
        [], lambda f: (_edit_config("delta = ", "delta = 0.5 #")(f),
                       _edit_config("seed = 0", "seed = 5")(f)),
        "was edited since checkpoint.pt: it would change run.seed from 0 to 5"),
}


def _edit_data(folder, key, change):
    """Rewrite one array of the last data file (`change` None: drop it), lengths kept."""
    path = folder / "data" / "iter_0001.npz"
    with np.load(path) as f:
        arrays = dict(f)
    if change is None:
        del arrays[key]
    else:
        arrays[key] = change(arrays[key])
    np.savez(path, **arrays)


@pytest.mark.parametrize("case", RESUME_CASES)
def test_bad_resume_is_refused_before_anything_changes(case, copy_of, capsys):
    extra, edit, message = RESUME_CASES[case]
    folder = copy_of()
    if edit is not None:
        edit(folder)
    before = tree(folder)
    code, err = call(run.main, ["--resume", "--out", str(folder), "--no-progress"] + extra, capsys)
    assert_one_line_error(code, err, message)
    assert tree(folder) == before


@pytest.mark.parametrize("argv,message", [
    (["--resume", "--out", "x" * 300], "File name too long"),
    (["--config", "x" * 300], "File name too long"),
    (["--resume", "--out", "{tmp}/file"], "is a file, not a run folder: no run to resume"),
])
def test_paths_the_os_refuses(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative names land here: a refused run leaves nothing behind
    (tmp_path / "file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, err = call(run.main, argv + ["--no-progress"], capsys)
    assert_one_line_error(code, err, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_resume_of_a_missing_folder(tmp_path, capsys):
    code, err = call(run.main, ["--resume", "--out", str(tmp_path / "none")], capsys)
    assert_one_line_error(code, err, "does not exist: no run to resume")
    assert not (tmp_path / "none").exists()


def test_resume_may_change_step_sizes_and_records_the_change(copy_of, capsys):
    folder = copy_of()
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750",
                                "--set", "model.lr=0.0005", "--policy-steps", "2", "--no-progress"],
                     capsys)
    assert code == 0, err
    assert "note: resuming with schedule.policy_steps 1 -> 2, model.lr 0.001 -> 0.0005" in err
    config = load_saved_config(folder / "config.toml")
    assert config.model.lr == 0.0005 and config.schedule.policy_steps == 2 and config.run.samples == 750
    state = load_checkpoint(folder / "checkpoint.pt")
    assert state["model"]["optimizer"]["param_groups"][0]["lr"] == 0.0005  # not the checkpoint's
    assert state["config"]["model"]["lr"] == 0.0005
    log = (folder / "config_changes.log").read_text()
    assert "iteration 2 (" in log and "model.lr 0.001 -> 0.0005" in log
    # the new values are the run's own now: a plain resume keeps them
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "1000",
                                "--no-progress"], capsys)
    assert code == 0, err
    assert load_checkpoint(folder / "checkpoint.pt")["model"]["optimizer"]["param_groups"][0]["lr"] == 0.0005


def _old_style_toml(folder):
    """config.toml as the code before this change wrote it: inline lists, an absolute `out` of
    another machine."""
    config = load_saved_config(folder / "config.toml")
    lines = []
    for section, values in config.to_dict().items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if section == "run" and key == "out":
                value = "/home/someone/else/runs/out/run"
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, bool):
                lines.append(f"{key} = {str(value).lower()}")
            elif isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]")
            else:
                lines.append(f"{key} = {value!r}")
        lines.append("")
    return "\n".join(lines)


def test_a_moved_folder_with_an_old_config_and_checkpoint_resumes_and_reports(copy_of, tmp_path,
                                                                              capsys):
    folder = copy_of("elsewhere/moved")
    (folder / "config.toml").write_text(_old_style_toml(folder))
    _without_config_in_checkpoints(folder)
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750",
                                "--no-progress"], capsys)
    assert code == 0, err
    text = (folder / "config.toml").read_text()
    assert not re.search(r"^out =", text, re.M) and "/home/someone" not in text  # no machine's
    assert report_cli.main([str(folder)]) == 0
    assert diagnose.check_args(diagnose.build_parser().parse_args([str(folder)]), folder)


def test_out_with_quotes_and_backslashes_trains_resumes_and_reports(tmp_path, capsys):
    out = tmp_path / 'a "quoted" \\ name'
    assert run.main(FAST + ["--samples", "250", "--out", str(out)]) == 0
    assert run.main(["--resume", "--out", str(out), "--samples", "500", "--no-progress"]) == 0
    assert report_cli.main([str(out)]) == 0
    assert load_saved_config(out / "config.toml").run.samples == 500


def test_divergence_before_any_checkpoint_and_its_suggested_fix(tmp_path, monkeypatch, capsys):
    original = DynamicsEnsemble.fit

    def diverge(self, *args, **kwargs):
        with torch.no_grad():
            self.net.net[0].weight.fill_(float("nan"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamicsEnsemble, "fit", diverge)
    out = tmp_path / "run"
    code, err = call(run.main, FAST + ["--out", str(out)], capsys)
    assert code == 1 and "Traceback" not in err
    assert "diverged in its first iteration, before any checkpoint" in err
    assert "checkpoint.pt" not in err and not (out / "checkpoint.pt").exists()
    suggested = err.strip().splitlines()[-1]
    assert suggested.startswith("To start again with a smaller step: python -m stackelberg.run")
    assert "--set model.lr=0.0005" in suggested
    monkeypatch.setattr(DynamicsEnsemble, "fit", original)
    argv = suggested.split("python -m stackelberg.run ")[1].split() + ["--no-progress"]
    code, err = call(run.main, argv, capsys)  # the suggestion can be applied as it is
    assert code == 0, err
    assert load_saved_config(out / "config.toml").model.lr == 0.0005


def test_a_value_baseline_divergence_is_blamed_on_its_step_size(tmp_path, capsys):
    out = tmp_path / "run"
    code, err = call(run.main, FAST + ["--set", "npg.value_lr=1e30", "--out", str(out)], capsys)
    assert code == 1 and "Traceback" not in err
    assert "lower npg.value_lr" in err and "--set npg.value_lr=5e+29" in err
    assert "npg.delta" not in err


def test_a_malicious_pickle_is_refused_with_a_whole_sentence(copy_of, capsys):
    folder = copy_of()

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    for name in ("checkpoint.pt", "checkpoint_prev.pt"):
        (folder / name).write_bytes(pickle.dumps({"policy": Payload()}))
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750"], capsys)
    assert_one_line_error(code, err, "could run code (refused)")
    assert not Path("pwned").exists() and not (folder / "pwned").exists()


# --- report -------------------------------------------------------------------------------------

CONFIG = '[run]\ntask = "t"\nalgo = "pal"\nseed = 0\n'
METRICS = "samples,eval_return,seconds\n1000,10,1\n2000,20,1\n"

REPORT_CASES = {
    # id: (metrics.csv, config.toml, extra argv given the folder's parent, expected message)
    "garbage row": ("samples,eval_return,seconds\n1000,10,1\nx,y,z\n", CONFIG, [],
                    "line 3: samples is not a number: 'x'"),
    "short row": ("samples,eval_return,seconds\n1000,10,1\n2000,20\n", CONFIG, [],
                  "line 3 does not have the header's 3 fields"),
    "long row": ("samples,eval_return,seconds\n1000,10,1,9\n", CONFIG, [],
                 "line 2 does not have the header's 3 fields"),
    "samples nan": ("samples,eval_return,seconds\nnan,10,1\n", CONFIG, [],
                    "samples must be a count, got 'nan'"),
    "samples unsorted": ("samples,eval_return,seconds\n2000,10,1\n1000,20,1\n", CONFIG, [],
                         "samples 1000 after 2000"),
    "no seconds": ("samples,eval_return\n1000,10\n", CONFIG, [], "has no seconds column"),
    "no rows": ("samples,eval_return,seconds\n", CONFIG, [], "has no rows yet"),
    "unknown metric": (METRICS, CONFIG, ["--metric", "nope"], "unknown metric 'nope'"),
    "metrics binary": (bytes(range(1, 256)), CONFIG, [], "is not UTF-8 text"),
    "metrics NUL": ("samples,eval_return,seconds\n\0\n", CONFIG, [], "holds binary data"),
    "config without [run]": (METRICS, "[npg]\ndelta = 0.1\n", [], "has no [run] table"),
    "config not TOML": (METRICS, "[run\n", [], "is not valid TOML"),
    "config binary": (METRICS, b"\x80\x81", [], "is not UTF-8 text"),
    "config seed text": (METRICS, CONFIG.replace("seed = 0", 'seed = "x"'), [],
                         "run.seed must be int"),
    "plot is a folder": (METRICS, CONFIG, lambda d: ["--plot", str(d)], "is a folder"),
    "plot under a file": (METRICS, CONFIG, lambda d: ["--plot", str(d / "run" / "metrics.csv" / "f.png")],
                          "is a file, not a folder"),
    "plot not writable": (METRICS, CONFIG, ["--plot", NOT_WRITABLE + "/f.png"], "is not writable"),
    "plot name too long": (METRICS, CONFIG, lambda d: ["--plot", str(d / ("x" * 300 + ".png"))],
                           "File name too long"),
    "plot format": (METRICS, CONFIG, lambda d: ["--plot", str(d / "f.docx")], "unknown figure format"),
    "target nan": (METRICS, CONFIG, ["--target", "nan"], "must be a finite number"),
    "bins inf": (METRICS, CONFIG, ["--bins", "inf"], "must be a finite number"),
    "argparse": (METRICS, CONFIG, ["--x", "minutes"], "invalid choice: 'minutes'"),
    "folder name too long": (METRICS, CONFIG, lambda d: [str(d / ("x" * 300))], "File name too long"),
    "bins below a sample": (METRICS, CONFIG, ["--bins", "0.001"],
                            "must be a whole number of samples >= 1, got '0.001'"),
    "bins fractional": (METRICS, CONFIG, ["--bins", "2500.5"], "must be a whole number of samples"),
    "plot empty": (METRICS, CONFIG, ["--plot", ""], "argument --plot: is empty"),
    "the same folder twice": (METRICS, CONFIG, lambda d: [str(d / "run" / ".." / "run")],
                              "are the same run folder; give each run once"),
    "a link to the same folder": (METRICS, CONFIG, lambda d: [_link(d / "link", d / "run")],
                                  "are the same run folder; give each run once"),
}


def _link(link, target):
    link.symlink_to(target, target_is_directory=True)
    return str(link)


@pytest.mark.parametrize("case", REPORT_CASES)
def test_bad_input_to_report(case, tmp_path, capsys):
    metrics, config, extra, message = REPORT_CASES[case]
    folder = tmp_path / "run"
    folder.mkdir()
    for name, content in (("metrics.csv", metrics), ("config.toml", config)):
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    extra = extra(tmp_path) if callable(extra) else extra
    before = tree(tmp_path)
    code, err = call(report_cli.main, [str(folder)] + extra, capsys)
    assert_one_line_error(code, err, message)
    assert tree(tmp_path) == before


def test_report_reads_every_committed_record(capsys):
    folders = sorted(str(p.parent) for p in RUNS.glob("*/records/**/metrics.csv"))
    assert len(folders) > 50
    assert report_cli.main(folders) == 0
    assert "| dclaw-turn |" in capsys.readouterr().out


def test_every_committed_config_resolves():
    paths = sorted(RUNS.glob("*/records/**/config.toml"))
    assert len(paths) > 50
    for path in paths:
        config = load_saved_config(path)
        assert config.run.task and config.run.algo == config.schedule.name


# --- diagnose -----------------------------------------------------------------------------------

DIAGNOSE_CASES = {
    "seed negative": (lambda d: ["--seed", "-1"], "--seed must be in [0,"),
    "seed too large": (lambda d: ["--seed", str(2**32)], "--seed must be in [0,"),
    "starts zero": (lambda d: ["--starts", "0"], "--starts must be >= 1"),
    "horizon huge": (lambda d: ["--horizon", str(10**9)], "--horizon must be >= 1 and <="),
    "threads negative": (lambda d: ["--threads", "-3"], "--threads must be >= 0"),
    "out is a folder": (lambda d: ["--out", str(d)], "is a folder"),
    "out under a file": (lambda d: ["--out", str(d / "config.toml" / "x.png")],
                         "is a file, not a folder"),
    "out not writable": (lambda d: ["--out", NOT_WRITABLE + "/x.png"], "is not writable"),
    "out format": (lambda d: ["--out", str(d / "x.docx")], "unknown figure format '.docx'"),
    "argparse": (lambda d: ["--starts", "many"], "invalid int value: 'many'"),
    "config name too long": (lambda d: ["--out", str(d / ("x" * 300) / "f.png")], "File name too long"),
}


@pytest.mark.parametrize("case", DIAGNOSE_CASES)
def test_bad_input_to_diagnose(case, copy_of, capsys):
    folder = copy_of()
    extra, message = DIAGNOSE_CASES[case]
    before = tree(folder)
    code, err = call(diagnose.main, [str(folder)] + extra(folder), capsys)
    assert_one_line_error(code, err, message)
    assert tree(folder) == before


def test_diagnose_refuses_an_edited_config(copy_of, capsys):
    folder = copy_of()
    (folder / "config.toml").write_text("")
    code, err = call(diagnose.main, [str(folder)], capsys)
    assert_one_line_error(code, err, "lacks run.task")


# --- sweep --------------------------------------------------------------------------------------

def _recipe(tmp, seeds="[0]", out=None, extra=""):
    path = tmp / "r.toml"
    out = out if out is not None else tmp / "out"
    path.write_text(f'[sweep]\ntasks = ["inverted-pendulum"]\nalgos = ["pal"]\nseeds = {seeds}\n'
                    f'samples = 500\nout = "{out}"\n{extra}')
    return str(path)


def _cell_in_the_way(tmp):
    out = tmp / "o"
    out.mkdir()
    (out / "inverted-pendulum-pal-s0").write_text("x")
    return out


SWEEP_CASES = {
    "seed 2**32": (lambda t: [_recipe(t, seeds="[4294967296]")], "run.seed must be in [0, 4294967295]"),
    "out is a file": (lambda t: [_recipe(t, out=_file(t, "file", "x"))], "is a file, not a folder"),
    "out under a file": (lambda t: [_recipe(t, out=_file(t, "file", "x") + "/out")],
                         "is a file, not a folder"),
    "out not writable": (lambda t: [_recipe(t, out=NOT_WRITABLE)], "is not writable"),
    "--out is a file": (lambda t: [_recipe(t), "--out", _file(t, "file", "x")], "is a file"),
    "cell folder is a file": (lambda t: [_recipe(t, out=_cell_in_the_way(t))],
                              "cell inverted-pendulum-pal-s0: folder"),
    "int as float": (lambda t: [_recipe(t, extra='[overrides]\n"npg.horizon_cap" = 20.0\n')],
                     "npg.horizon_cap must be int, got '20.0'"),
    "report path": (lambda t: [_recipe(t), "--report", str(t)], "is a folder"),
    "recipe not UTF-8": (lambda t: [_file(t, "r.toml", b"\xff\xfe[sweep]")], "is not UTF-8 text"),
    "workers": (lambda t: [_recipe(t), "--workers", "0"], "--workers must be >= 1"),
    "target nan": (lambda t: [_recipe(t), "--target", "nan"], "must be a finite number"),
    "argparse": (lambda t: [], "the following arguments are required: recipe"),
}


@pytest.mark.parametrize("case", SWEEP_CASES)
def test_bad_input_to_sweep(case, tmp_path, capsys):
    argv, message = SWEEP_CASES[case]
    argv = argv(tmp_path)
    before = tree(tmp_path)
    code, err = call(sweep.main, argv, capsys)
    assert_one_line_error(code, err, message)
    assert tree(tmp_path) == before
    assert not (tmp_path / "out").exists()


# --- the real entry points ----------------------------------------------------------------------

@pytest.mark.parametrize("module,argv,message", [
    ("stackelberg.run", ["--no-such-flag", "--out", "{tmp}/new"], "unrecognized arguments"),
    ("stackelberg.diagnose", ["{tmp}", "--seed", "-1"], "is not a run folder"),
    ("stackelberg.sweep", ["{tmp}/missing.toml"], "does not exist"),
    # tasks that import gymnasium-robotics, whose import notice must not precede the line
    ("stackelberg.run", ["--task", "pen", "--seed", "-1", "--out", "{tmp}/new"], "run.seed must be"),
    ("stackelberg.run", ["--perturb", "goals@100", "--out", "{tmp}/new"], "goals"),
])
def test_entry_points_print_one_line_and_exit_2(module, argv, message, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert_one_line_error(proc.returncode, proc.stderr, message)
    assert not (tmp_path / "new").exists()


# --- round two: resume integrity ----------------------------------------------------------------

def test_a_hand_edited_resumable_key_is_said_and_logged_like_a_set(copy_of, capsys):
    folder = copy_of()
    _edit_config("delta = ", "delta = 0.025 #")(folder)
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750",
                                "--no-progress"], capsys)
    assert code == 0, err
    assert re.search(r"note: resuming with npg\.delta [0-9.e-]+ -> 0\.025", err), err
    log = (folder / "config_changes.log").read_text()
    assert re.search(r"iteration 2 \(\d+ samples\): npg\.delta [0-9.e-]+ -> 0\.025", log), log
    assert load_checkpoint(folder / "checkpoint.pt")["config"]["npg"]["delta"] == 0.025


@pytest.fixture(scope="module")
def other_seed_run(tmp_path_factory):
    """The finished run of `done_run` with another seed: its checkpoints are foreign there."""
    out = tmp_path_factory.mktemp("other") / "run"
    assert run.main(FAST + ["--threads", "1", "--seed", "1", "--out", str(out)]) == 0
    return out


def test_a_foreign_checkpoint_falls_back_to_the_previous_one_and_is_kept(copy_of, other_seed_run,
                                                                         capsys):
    folder = copy_of()
    own_previous = load_checkpoint(folder / "checkpoint_prev.pt")
    shutil.copyfile(other_seed_run / "checkpoint.pt", folder / "checkpoint.pt")
    foreign = tree(folder)["checkpoint.pt"]
    code, err = call(run.main, ["--resume", "--out", str(folder), "--no-progress"], capsys)
    assert code == 0, err
    assert f"warning: {folder / 'checkpoint.pt'} is not this folder's run" in err, err
    assert "using checkpoint_prev.pt instead" in err and "config.toml was edited" not in err
    assert tree(folder)["checkpoint_foreign.pt"] == foreign  # another run's file is not lost
    state = load_checkpoint(folder / "checkpoint.pt")
    assert state["iteration"] == own_previous["iteration"] + 1  # replayed from its own


def test_a_checkpoint_of_a_later_point_falls_back_to_the_previous_one(copy_of, capsys):
    folder = copy_of()
    (folder / "data" / "iter_0001.npz").unlink()  # the folder as it was one iteration earlier
    lines = (folder / "metrics.csv").read_text().splitlines(keepends=True)
    (folder / "metrics.csv").write_text("".join(lines[:2]))
    code, err = call(run.main, ["--resume", "--out", str(folder), "--no-progress"], capsys)
    assert code == 0, err
    assert "past the 1 rows of metrics.csv" in err and "using checkpoint_prev.pt" in err
    assert "would cut its budget" not in err and "put the" not in err
    assert (folder / "data" / "iter_0001.npz").is_file()


@pytest.mark.parametrize("which", ["both", "only"])
def test_foreign_checkpoints_and_no_own_one_are_refused_naming_the_file(which, copy_of,
                                                                         other_seed_run, capsys):
    folder = copy_of()
    shutil.copyfile(other_seed_run / "checkpoint.pt", folder / "checkpoint.pt")
    if which == "both":
        shutil.copyfile(other_seed_run / "checkpoint_prev.pt", folder / "checkpoint_prev.pt")
    else:
        (folder / "checkpoint_prev.pt").unlink()
    before = tree(folder)
    code, err = call(run.main, ["--resume", "--out", str(folder), "--no-progress"], capsys)
    assert_one_line_error(code, err, f"{folder / 'checkpoint.pt'} is not this folder's run")
    assert "No checkpoint of this folder's run" in err and "edited" not in err
    assert tree(folder) == before


def test_a_read_only_data_folder_is_refused_before_anything_is_rewritten(copy_of, monkeypatch,
                                                                        capsys):
    folder = copy_of()
    real_access = os.access
    # the suite runs as root, for whom every folder is writable: the OS's answer is simulated
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == folder / "data"
                        else real_access(path, mode))
    before = tree(folder)
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750",
                                "--no-progress"], capsys)
    assert_one_line_error(code, err, f"{folder / 'data'} is not writable")
    assert tree(folder) == before


def test_a_run_whose_first_iteration_never_finished_starts_again_with_any_change(copy_of, capsys):
    folder = copy_of()
    for name in ("checkpoint.pt", "checkpoint_prev.pt", "policy_best.pt", "metrics.csv",
                 "data/iter_0001.npz"):
        (folder / name).unlink()
    shutil.rmtree(folder / "snapshots")
    code, err = call(run.main, ["--resume", "--out", str(folder), "--no-progress",
                                "--set", "npg.num_trajectories=4"], capsys)  # not resumable
    assert code == 0, err
    assert "no checkpoint yet; starting the run from the beginning" in err
    assert load_saved_config(folder / "config.toml").npg.num_trajectories == 4
    assert "npg.num_trajectories 8 -> 4" in (folder / "config_changes.log").read_text()


def test_list_values_in_the_syntax_config_toml_shows_are_accepted_by_set():
    from stackelberg.config import resolve_config

    for text in ("[64,64]", "[64, 64]", "64,64"):
        assert resolve_config({}, [("model.hidden_sizes", text)]).model.hidden_sizes == (64, 64)


# --- round two: report, render, crafted pickles -------------------------------------------------

def test_report_keeps_a_repeated_seed_apart_and_names_it(tmp_path, capsys):
    for parent in ("serial", "parallel"):
        folder = tmp_path / parent / "run-s0"
        folder.mkdir(parents=True)
        (folder / "metrics.csv").write_text(METRICS)
        (folder / "config.toml").write_text(CONFIG)
    capsys.readouterr()
    assert report_cli.main([str(tmp_path / "serial" / "run-s0"),
                            str(tmp_path / "parallel" / "run-s0")]) == 0
    out, err = capsys.readouterr()
    assert "are both seed 0 of pal on t" in err and "kept apart by folder" in err
    assert "| t | pal [serial] | 1 |" in out and "| t | pal [parallel] | 1 |" in out


RENDER_CASES = {
    "gif into an mp4": (["--gif", "--out", "{tmp}/v.mp4"], "--gif writes a GIF, but --out"),
    "hold forever": (["--hold", "1e300"], "argument --hold: must be in [0, 60] seconds"),
    "out empty": (["--out", ""], "argument --out: is empty"),
    "no best policy": (["--rm", "policy_best.pt"],
                       "this one was not (run.eval_episodes = 0); film its last policy with "
                       "--checkpoint '"),
}


@pytest.mark.parametrize("case", RENDER_CASES)
def test_bad_input_to_render(case, copy_of, tmp_path, capsys):
    folder = copy_of("a run")  # a space: suggested commands must quote it
    argv, message = RENDER_CASES[case]
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[:1] == ["--rm"]:
        (folder / argv[1]).unlink()
        argv = []
    before = tree(tmp_path)
    code, err = call(render_cli.main, [str(folder)] + argv, capsys)
    assert_one_line_error(code, err, message)
    assert tree(tmp_path) == before


def _crafted_pickle(marker):
    """A file whose unpickling would create `marker`."""
    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {shlex.quote(str(marker))}",))

    return pickle.dumps({"policy": Payload(), "model": {}, "iteration": 1, "samples": 1,
                         "metrics": [], "best_return": 0.0})


@pytest.mark.parametrize("entry", ["run --resume", "render", "diagnose", "carry_runs restore"])
def test_a_crafted_pickle_runs_no_code_through_any_entry_point(entry, done_run, tmp_path, carry,
                                                               capsys):
    marker = tmp_path / "code-ran"
    folder = tmp_path / "out" / "run"
    shutil.copytree(done_run, folder)
    crafted = _crafted_pickle(marker)
    if entry == "carry_runs restore":
        carried = carry.save(folder)
        shutil.rmtree(folder)
        (carried / "checkpoint.pt").write_bytes(crafted)
        main, argv, target = carry.main, ["restore", str(carried)], tmp_path
    else:
        for path in [folder / "checkpoint.pt", folder / "checkpoint_prev.pt",
                     folder / "policy_best.pt", *(folder / "snapshots").glob("*.pt")]:
            path.write_bytes(crafted)
        main, argv = {"run --resume": (run.main, ["--resume", "--out", str(folder), "--samples",
                                                  "750", "--no-progress"]),
                      "render": (render_cli.main, [str(folder)]),
                      "diagnose": (diagnose.main, [str(folder), "--starts", "1"])}[entry]
        target = folder
    before = tree(target)
    code, err = call(main, argv, capsys)
    assert_one_line_error(code, err, "could run code (refused)")
    assert "weights_only" not in err and "unsafe" not in err.lower()
    assert not marker.exists()
    assert tree(target) == before


def test_every_torch_load_in_the_repository_is_weights_only():
    root = RUNS.parent
    calls = [(path, line) for path in [*root.glob("stackelberg/**/*.py"), *root.glob("runs/**/*.py"),
                                       *root.glob("tests/*.py"), *root.glob("tasks/**/*.py")]
             for line in path.read_text().splitlines() if re.search(r"torch\.load\(", line)]
    assert calls  # the search finds them at all
    unsafe = [f"{path}: {line.strip()}" for path, line in calls
              if "weights_only=True" not in line and not line.lstrip().startswith(("#", '"', "`"))
              and "re.search" not in line]
    assert not unsafe, unsafe


# --- round two: signals -------------------------------------------------------------------------

# `python -m stackelberg.run`, with a stop signal sent to itself at one point of its start-up
SIGNAL_AT = r"""
import os, signal, sys
point, signum = sys.argv[1], getattr(signal, sys.argv[2])
fire = lambda: os.kill(os.getpid(), signum)
import stackelberg
from stackelberg import tasks
if point == "task":
    real_make = tasks.make
    def make(name):
        fire()
        return real_make(name)
    tasks.make = make
elif point == "players":
    import stackelberg.runner.players as run_players
    real_build = run_players.build_players
    def build(*args, **kwargs):
        fire()
        return real_build(*args, **kwargs)
    run_players.build_players = build
else:
    class Finder:
        def find_spec(self, name, path=None, target=None):
            if name == point:
                fire()
            return None
    sys.meta_path.insert(0, Finder())
from stackelberg.cli.main import run_command
sys.exit(run_command("run", sys.argv[3:]))
"""


@pytest.mark.parametrize("point,signame", [("task", "SIGTERM"), ("players", "SIGINT"),
                                           ("matplotlib", "SIGTERM"),
                                           ("stackelberg.cli.run", "SIGINT")])
def test_a_stop_signal_during_start_up_takes_the_interrupt_path(point, signame, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SIGNAL_AT, point, signame, *FAST, "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 130, proc.stderr
    assert "Traceback" not in proc.stderr and "interrupted" in proc.stderr, proc.stderr
    assert not out.exists()  # nothing was written, and no empty folder is left


# a run whose second checkpoint write is stopped by SIGTERM halfway through the file
SIGTERM_IN_CHECKPOINT = r"""
import os, signal, sys, torch
real_save, writes = torch.save, []
def save(obj, f, *args, **kwargs):
    if str(getattr(f, "name", "")).endswith("checkpoint.pt.tmp"):
        writes.append(1)
        if len(writes) == 2:
            f.write(b"half a checkpoint")
            os.kill(os.getpid(), signal.SIGTERM)
    return real_save(obj, f, *args, **kwargs)
torch.save = save
from stackelberg.cli.main import run_command
sys.exit(run_command("run", sys.argv[1:]))
"""


def test_a_sigterm_inside_a_checkpoint_write_leaves_no_tmp_and_reports_the_checkpoint(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-c", SIGTERM_IN_CHECKPOINT, *FAST, "--samples", "750",
                           "--out", str(out)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 130 and "Traceback" not in proc.stderr, proc.stderr
    assert not list(out.glob("*.tmp")), sorted(p.name for p in out.iterdir())
    kept = int(load_checkpoint(out / "checkpoint.pt")["samples"])
    final = proc.stderr.strip().splitlines()[-1]
    assert final.startswith(f"stopped: {kept} samples"), (final, kept)
