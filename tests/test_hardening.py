"""Every bad input to `run`, `report`, `diagnose` and `sweep` is one line on stderr and exit code 2,
with no traceback and nothing written or changed; a resume may change step sizes and
bookkeeping (and says so), refuses other changes by name, and works on a moved folder."""
import hashlib
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from stackelberg.cli import report as report_cli
from stackelberg.cli import diagnose
from stackelberg.cli import run
from stackelberg.cli import sweep
from stackelberg.config import load_saved_config
from stackelberg.core.errors import UserInputError, make_output_dir
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.runner.run_folder import load_checkpoint
from test_cli import FAST

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
                         "policy.hidden_sizes needs at least one layer size"),
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
}


def _killed_in_iteration_0(tmp):
    out = tmp / "killed"
    (out / "data").mkdir(parents=True)
    (out / "config.toml").write_text('[run]\ntask = "inverted-pendulum"\nalgo = "pal"\nseed = 5\n')
    (out / "data" / "iter_0000.npz").write_bytes(b"data")
    return out


@pytest.mark.parametrize("case", NEW_RUN_CASES)
def test_bad_input_to_a_new_run(case, tmp_path, capsys):
    argv, message = NEW_RUN_CASES[case]
    argv = argv(tmp_path)
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "new")]
    before = tree(tmp_path)
    code, err = call(run.main, FAST + argv, capsys)
    assert_one_line_error(code, err, message)
    assert tree(tmp_path) == before
    assert not (tmp_path / "new").exists()


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
}


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
def test_paths_the_os_refuses(argv, message, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, err = call(run.main, argv + ["--no-progress"], capsys)
    assert_one_line_error(code, err, message)
    assert not Path("x" * 10).exists()


def test_resume_of_a_missing_folder(tmp_path, capsys):
    code, err = call(run.main, ["--resume", "--out", str(tmp_path / "none")], capsys)
    assert_one_line_error(code, err, "does not exist: no run to resume")
    assert not (tmp_path / "none").exists()


def test_resume_may_change_step_sizes_and_records_the_change(copy_of, capsys):
    folder = copy_of()
    code, err = call(run.main, ["--resume", "--out", str(folder), "--samples", "750",
                                "--set", "model.lr=0.0005", "--npg-steps", "2", "--no-progress"],
                     capsys)
    assert code == 0, err
    assert "note: resuming with schedule.npg_steps 1 -> 2, model.lr 0.001 -> 0.0005" in err
    config = load_saved_config(folder / "config.toml")
    assert config.model.lr == 0.0005 and config.schedule.npg_steps == 2 and config.run.samples == 750
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
}


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
])
def test_entry_points_print_one_line_and_exit_2(module, argv, message, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", module, *argv], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert_one_line_error(proc.returncode, proc.stderr, message)
    assert not (tmp_path / "new").exists()
