"""`python -m stackelberg.sweep`: recipes are validated whole before anything runs; cells run
in parallel processes (or Ray tasks), complete cells are skipped and incomplete ones resumed."""
import csv
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stackelberg.cli import run
from stackelberg.cli import sweep
from stackelberg.cli.recipe import load_recipe
from stackelberg.runner.run_folder import load_checkpoint

# tests/test_cli.py's FAST settings as recipe overrides
FAST = """
[overrides]
"schedule.initial_samples" = 250
"schedule.samples_per_iteration" = 250
"schedule.model_epochs" = 1
"schedule.model_min_steps" = 5
"schedule.policy_steps" = 1
"run.eval_episodes" = 1
"npg.num_trajectories" = 8
"npg.horizon_cap" = 20
"model.hidden_sizes" = [32, 32]
"""


def recipe(tmp_path, samples=500, algos='["pal", "mal"]', seeds="[0]", extra="", name="r"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""[sweep]
name = "{name}"
tasks = ["inverted-pendulum"]
algos = {algos}
seeds = {seeds}
samples = {samples}
out = "{tmp_path / 'out'}"
threads = 1
{FAST}
[overrides.mal]
"npg.delta" = 0.02
{extra}""")
    return path


def rows_without_timing(folder):
    return [{k: v for k, v in r.items() if "seconds" not in k}
            for r in csv.DictReader(open(folder / "metrics.csv"))]


@pytest.mark.parametrize("edit,message", [
    (("threads = 1", "threadz = 1"), "unknown key sweep.threadz"),
    (('"npg.horizon_cap" = 20', '"npg.horizon_capp" = 20'), "unknown config key 'npg.horizon_capp'"),
    (('"npg.delta" = 0.02', '"npg.delta" = -1'), "cell inverted-pendulum-mal-s0: npg.delta must be > 0, got -1.0"),
    (('"npg.delta" = 0.02', '"npg.delta" = "abc"'), "npg.delta must be float"),
    (('"schedule.policy_steps" = 1', '"schedule.policy_steps" = 0'), "schedule.policy_steps must be >= 1"),
    (('"pal", "mal"', '"pal", "mall"'), "unknown algo 'mall'; valid algos: br, gda, mal, pal"),
    (('["inverted-pendulum"]', '["pendulum"]'), "unknown task 'pendulum'; valid tasks:"),
    (("[overrides.mal]", "[overrides.mall]"), "unknown config key 'mall.npg.delta'"),
    (('"npg.delta" = 0.02', '"run.seed" = 3'), "cannot set run.seed; it is sweep.seeds"),
    (("seeds = [0]", "seeds = [0, 0]"), "sweep.seeds lists a value twice"),
    (("samples = 500", "samples = 0"), "sweep.samples must be positive"),
    (("samples = 500", "samples = 5.5"), "sweep.samples must be int"),
    (("[overrides.mal]", "[extra]"), "unknown table [extra]"),
])
def test_bad_recipe_is_rejected_before_any_run(tmp_path, capsys, edit, message):
    path = recipe(tmp_path)
    path.write_text(path.read_text().replace(*edit))
    assert sweep.main([str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing started, not even a folder


def test_recipe_errors_are_the_cli_errors(tmp_path, capsys):
    assert run.main(["--set", "npg.horizon_capp=20", "--out", str(tmp_path / "x")]) == 2
    cli = capsys.readouterr().err.strip().removeprefix("error: ")
    path = recipe(tmp_path)
    path.write_text(path.read_text().replace('"npg.horizon_cap"', '"npg.horizon_capp"'))
    assert sweep.main([str(path)]) == 2
    assert cli in capsys.readouterr().err


def test_ray_backend_without_ray_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    assert sweep.main([recipe(tmp_path).as_posix(), "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'ray>=2.9'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_recipe_cells_resolve_like_the_cli(tmp_path):
    rec = load_recipe(recipe(tmp_path, algos='["pal", "mal"]', seeds="[0, 1]"))
    assert [c.name for c in rec.cells] == ["inverted-pendulum-pal-s0", "inverted-pendulum-pal-s1",
                                           "inverted-pendulum-mal-s0", "inverted-pendulum-mal-s1"]
    mal = rec.cells[2]
    cli = run.config_from_args(run.build_parser().parse_args(mal.start_argv()))
    assert mal.config == cli
    assert mal.config.npg.delta == 0.02 and rec.cells[0].config.npg.delta == 0.05
    assert mal.config.schedule.buffer_capacity is None  # MAL's own default survives
    assert mal.config.model.hidden_sizes == (32, 32) and mal.folder == tmp_path / "out" / mal.name


def test_nested_and_per_algorithm_tables(tmp_path):
    path = recipe(tmp_path, extra='[overrides.pal.npg]\ndelta = 0.03\n[overrides.policy]\n'
                                  'init_log_std = -0.5\n')
    pal, mal = load_recipe(path).cells
    assert pal.config.npg.delta == 0.03 and mal.config.npg.delta == 0.02
    assert pal.config.npg.init_log_std == mal.config.npg.init_log_std == -0.5


def test_dry_run_plans_without_creating_anything(tmp_path, capsys):
    assert sweep.main([str(recipe(tmp_path)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "inverted-pendulum-pal-s0: start  python -m stackelberg.run --task inverted-pendulum" in out
    assert "--set npg.delta=0.02" in out
    assert not (tmp_path / "out").exists()


def test_only_selects_cells_by_name_pattern(tmp_path, capsys):
    path = str(recipe(tmp_path, seeds="[0, 1]"))
    assert sweep.main([path, "--dry-run", "--only", "*-pal-*", "--only", "*-mal-s1"]) == 0
    planned = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert planned == ["inverted-pendulum-pal-s0", "inverted-pendulum-pal-s1",
                       "inverted-pendulum-mal-s1"]
    assert sweep.main([path, "--dry-run", "--only", "*-gda-*"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --only '*-gda-*' matches no cell of r; its cells: inverted-pendulum-pal-s0, "
        "inverted-pendulum-pal-s1, inverted-pendulum-mal-s0, inverted-pendulum-mal-s1")


def test_local_sweep_parallel_then_skip_resume_and_serial(tmp_path, capsys):
    path = recipe(tmp_path)
    pal, mal = (tmp_path / "out" / f"inverted-pendulum-{a}-s0" for a in ("pal", "mal"))

    # two cells, two workers: the two run processes were alive at the same time
    first = sweep.run_sweep(load_recipe(path), workers=2, log=lambda m: None)
    assert [o.status for o in first] == ["ran", "ran"]
    assert max(o.start for o in first) < min(o.end for o in first)
    assert all(o.samples >= 500 for o in first)
    summary = list(csv.DictReader(open(tmp_path / "out" / "sweep_summary.csv")))
    assert [r["status"] for r in summary] == ["ran", "ran"] and float(summary[0]["start"]) > 0
    pal_rows, mal_rows = rows_without_timing(pal), rows_without_timing(mal)

    # a run killed after its last metrics row but before its last checkpoint: metrics.csv has
    # reached the budget, the checkpoint has not, so the cell is resumed, not skipped
    shutil.copyfile(mal / "checkpoint_prev.pt", mal / "checkpoint.pt")
    assert load_checkpoint(mal / "checkpoint.pt")["samples"] < 500
    pal_mtime = (pal / "metrics.csv").stat().st_mtime_ns
    assert sweep.main([str(path)]) == 0
    table = capsys.readouterr().out
    assert "inverted-pendulum-pal-s0  done (skipped)" in table
    assert "inverted-pendulum-mal-s0  resumed" in table
    assert (pal / "metrics.csv").stat().st_mtime_ns == pal_mtime  # untouched
    assert rows_without_timing(mal) == mal_rows  # the replayed iteration is identical

    # the recipe changes a value of existing runs: refused before anything runs
    changed = recipe(tmp_path, name="changed")
    changed.write_text(changed.read_text().replace('"npg.delta" = 0.02', '"npg.delta" = 0.03'))
    assert sweep.main([str(changed)]) == 2
    assert "holds a run with another config (npg.delta: 0.02 -> 0.03)" in capsys.readouterr().err

    # a larger budget resumes both; with one worker they run one after the other
    more = sweep.run_sweep(load_recipe(recipe(tmp_path, samples=750)), workers=1, log=lambda m: None)
    assert [o.status for o in more] == ["resumed", "resumed"]
    a, b = sorted(more, key=lambda o: o.start)
    assert a.end <= b.start
    assert rows_without_timing(pal)[:len(pal_rows)] == pal_rows
    assert all(o.samples >= 750 for o in more)


def test_ray_backend_runs_cells_as_ray_tasks(tmp_path):
    ray = pytest.importorskip("ray")
    path = recipe(tmp_path, algos='["pal"]', seeds="[0, 1]")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        outcomes = sweep.run_sweep(load_recipe(path), backend="ray", log=lambda m: None)
    finally:
        ray.shutdown()
    assert [o.status for o in outcomes] == ["ran", "ran"]
    # the cell Ray ran is the run the CLI makes from the same arguments
    cell = load_recipe(path).cells[1]
    argv = cell.start_argv()
    argv[argv.index("--out") + 1] = str(tmp_path / "cli")
    assert run.main(argv) == 0
    assert rows_without_timing(tmp_path / "cli") == rows_without_timing(cell.folder)


def test_the_plotting_module_loads_the_agg_c_extension_at_import():
    """A stop signal inside a C extension's initialisation surfaces as ImportError, not as an
    interrupt; a run imports the plotting module before its loop, so that module must load the
    Agg extension itself (pyplot alone defers it to the first figure, mid-training)."""
    code = ("import sys, stackelberg.runner.plots; "
            "print('matplotlib.backends._backend_agg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_sigterm_to_the_sweep_stops_its_runs_cleanly(tmp_path):
    """`kill`/`timeout`/a scheduler stop a sweep with SIGTERM: its runs must stop too (not go on
    as orphans) and through their interrupted path, leaving a resumable cell."""
    path = recipe(tmp_path, samples=100_000, algos='["pal"]')
    cell = tmp_path / "out" / "inverted-pendulum-pal-s0"
    proc = subprocess.Popen([sys.executable, "-m", "stackelberg.sweep", str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (cell / "checkpoint.pt").is_file():  # the run is past its first iteration
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # no-op once it ended; a sweep hung on its runs must not outlive the test
    assert proc.returncode == 130
    assert "interrupted; run the same command again to resume" in err
    assert "interrupted; checkpoint and data are in" in (cell / "run.log").read_text()
    run.lock_run_folder(cell).close()  # no process holds the run folder any more
    assert 0 < load_checkpoint(cell / "checkpoint.pt")["samples"] < 100_000


COMMITTED_RECIPES = sorted(
    p for p in Path(__file__).resolve().parents[1].glob("runs/**/*.toml")
    if "records" not in p.parts and "out" not in p.parts and "carry" not in p.parts
    and "[sweep]" in p.read_text())


@pytest.mark.parametrize("path", COMMITTED_RECIPES, ids=lambda p: p.relative_to(p.parents[1]).as_posix())
def test_every_committed_recipe_validates_whole(path):
    """A recipe in runs/ that no longer validates (a renamed key, a task gone) fails here, not in
    the next session's sweep."""
    assert load_recipe(path).cells
