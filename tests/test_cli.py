"""`python -m stackelberg.run`: short runs of every algorithm, outputs, bad input, divergence."""
import csv
import subprocess
from pathlib import Path
import sys

import pytest
import torch

from stackelberg.cli import run
from stackelberg.config import config_record, config_to_toml, load_saved_config
from stackelberg.mbpo.config import EARLY_STOPPED_FIT, mbpo_config_for
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.runner.run_folder import load_checkpoint
from run_flags import FAST



@pytest.mark.parametrize("algo_flags", [["--leader", "policy"], ["--leader", "model"],
                                        ["--algo", "gda"], ["--algo", "br"]])
def test_short_run_writes_all_outputs(tmp_path, algo_flags):
    out = tmp_path / "run"
    assert run.main(algo_flags + FAST + ["--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert len(rows) >= 2
    for key in ("samples", "eval_return", "eval_success", "model_loss_fresh", "model_return", "seconds"):
        assert key in rows[0]
    assert int(rows[-1]["samples"]) >= 500
    config = (out / "config.toml").read_text()
    expected = {"policy": "pal", "model": "mal"}.get(algo_flags[1], algo_flags[1])
    assert f'algo = "{expected}"' in config and "num_trajectories = 8" in config
    assert (out / "learning_curve.png").stat().st_size > 1000
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["samples"] == int(rows[-1]["samples"])
    saved = sum(len(__import__("numpy").load(p)["obs"]) for p in (out / "data").glob("*.npz"))
    assert saved == state["samples"]  # every collected transition is on disk


def test_config_file_and_cli_precedence(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\nalgo = "mal"\nseed = 3\n[schedule]\npolicy_steps = 2\n[npg]\ndelta = 0.02\n')
    args = run.build_parser().parse_args(["--config", str(cfg), "--policy-steps", "3"])
    config = run.config_from_args(args)
    assert config.run.algo == "mal" and config.run.seed == 3
    assert config.schedule.policy_steps == 3  # CLI beats file
    assert config.schedule.buffer_capacity is None  # MAL's default survives
    assert config.npg.delta == 0.02


@pytest.mark.parametrize("argv,message", [
    (["--task", "nope"], "unknown task 'nope'"),
    (["--algo", "xyz"], "invalid choice"),
    (["--samples", "0"], "run.samples must be >= 1, got 0"),
    (["--policy-steps", "-1"], "schedule.policy_steps must be >= 1"),
    (["--set", "npg.deltaa=0.1"], "unknown config key 'npg.deltaa'"),
    (["--set", "npg.delta=abc"], "npg.delta must be float"),
    (["--set", "nodot"], "SECTION.KEY=VALUE"),
    (["--leader", "policy", "--algo", "mal"], "--leader policy means --algo pal"),
    (["--buffer-capacity", "0"], "schedule.buffer_capacity must be >= 1"),
    (["--policy", "mbpo", "--set", "mbpo.real_ratio=2"], "mbpo.real_ratio must be in [0, 1]"),
    (["--set", "run.policy=ppo"], "run.policy must be one of m3po, mbpo, memb, npg, sac"),
    (["--perturb", "wobble@10"], "unknown kind 'wobble'"),
    (["--perturb", "goals@100"], "has no goal distribution to shift"),
    (["--perturb", "dynamics@100:target=forearm"], "valid targets: damping, mass"),
    (["--set", "model.augment_symmetry=true"], "inverted-pendulum has none"),
    (["--policy", "mbpo", "--set", "probabilistic_model.num_elites=9"],
     "probabilistic_model.num_elites must be in [1, ensemble_size]"),
    (["--set", "model.fit_precision=float16"], "model.fit_precision must be one of auto, float32, bfloat16"),
    (["--policy", "sac", "--set", "sac.lr=0"], "sac.lr must be > 0, got 0.0"),
])
def test_bad_input_is_one_line_and_exit_code_2(argv, message, capsys, tmp_path):
    # a folder of the test's own: a shared /tmp path may hold another process's run
    with pytest.raises(SystemExit) as exit_info:
        code = run.main(argv + ["--out", str(tmp_path / "never-created")])
        raise SystemExit(code)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "never-created").exists()


def test_bad_config_files(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[npg\ndelta = 1")
    assert run.main(["--config", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[policyy]\nx = 1\n")
    assert run.main(["--config", str(unknown)]) == 2
    assert "unknown config section [policyy]" in capsys.readouterr().err
    assert run.main(["--config", str(tmp_path / "missing.toml")]) == 2


def test_module_entry_point_exit_code_without_traceback():
    proc = subprocess.run([sys.executable, "-m", "stackelberg.run", "--task", "nope"],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "valid" in proc.stderr or "choose from" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_reader_that_leaves_early_is_not_an_error():
    """`stackelberg.report ... | head`: the pipe closes before the table is written."""
    record = str(Path(__file__).resolve().parents[1] / "runs/gym/records/ant-issue29/ant-pal-s0")
    proc = subprocess.Popen([sys.executable, "-m", "stackelberg.report", record, "--bins", "20000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # long before the child's first print (it is still importing torch)
    err = proc.stderr.read().decode()
    assert proc.wait() == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_existing_run_folder_is_not_overwritten(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.csv").write_text("iteration\n0\n")
    assert run.main(FAST + ["--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err


def test_divergence_stops_cleanly_and_keeps_checkpoint_and_data(tmp_path, monkeypatch, capsys):
    original = DynamicsEnsemble.fit
    fits = []

    def fit_then_diverge(self, *args, **kwargs):
        fits.append(1)
        if len(fits) > 1:
            with torch.no_grad():
                self.net.net[0].weight.fill_(float("nan"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DynamicsEnsemble, "fit", fit_then_diverge)
    out = tmp_path / "run"
    assert run.main(FAST + ["--samples", "1000", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "diverged" in err and "Traceback" not in err
    state = load_checkpoint(out / "checkpoint.pt")
    assert state["iteration"] == 1  # the good iteration 0
    assert all(torch.isfinite(v).all() for v in state["model"]["module"].values()
               if v.is_floating_point())
    assert len(list((out / "data").glob("iter_*.npz"))) == 2  # the failed iteration's data too


def _without_timing(rows):
    return [{k: v for k, v in r.items() if "seconds" not in k} for r in rows]


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    full, part = tmp_path / "full", tmp_path / "part"
    assert run.main(FAST + ["--samples", "750", "--out", str(full)]) == 0
    assert run.main(FAST + ["--samples", "400", "--out", str(part)]) == 0
    assert len(list(csv.DictReader(open(part / "metrics.csv")))) == 2
    assert run.main(["--resume", "--out", str(part), "--samples", "750", "--no-progress"]) == 0
    rows_full = list(csv.DictReader(open(full / "metrics.csv")))
    rows_part = list(csv.DictReader(open(part / "metrics.csv")))
    assert len(rows_full) == 3
    assert _without_timing(rows_part) == _without_timing(rows_full)


def test_resume_rejects_missing_runs(tmp_path, capsys):
    assert run.main(["--resume", "--out", str(tmp_path / "none")]) == 2
    assert "does not exist: no run to resume" in capsys.readouterr().err
    assert run.main(["--resume", "--out", str(tmp_path), "--policy-steps", "3"]) == 2
    assert "no config.toml and checkpoint.pt" in capsys.readouterr().err


MBPO_FAST = ["--policy", "mbpo", "--samples", "700", "--initial-samples", "300",
             "--set", "mbpo.updates_per_step=1", "--set", "mbpo.rollouts_per_env_step=2",
             "--set", "mbpo.min_pool_size=0", "--set", "probabilistic_model.hidden_sizes=16,16",
             "--set", "probabilistic_model.weight_decays=0,0,0", "--set", "mbpo.hidden_sizes=16,16",
             "--model-epochs", "3", "--eval-episodes", "1", "--no-progress"]


def test_mbpo_defaults_are_the_task_settings_and_mbpo_loop():
    for task in ("hopper", "inverted-pendulum"):
        config = run.config_from_args(run.build_parser().parse_args(["--policy", "mbpo", "--task", task]))
        assert config.model_player == "probabilistic"
        assert config.mbpo == mbpo_config_for(task)  # the task's official settings, whole
        # MBPO's loop: explore, then fit to early stopping every model_train_freq steps, all data kept
        assert config.schedule.initial_samples == config.mbpo.initial_random_steps
        assert config.schedule.samples_per_iteration == config.mbpo.model_train_freq
        assert config.schedule.buffer_capacity is None
        assert config.schedule.model_epochs == EARLY_STOPPED_FIT["model_epochs"]
    # a flag and --set sit above the task's settings
    pendulum = run.config_from_args(run.build_parser().parse_args(
        ["--policy", "mbpo", "--initial-samples", "100", "--set", "mbpo.updates_per_step=3"]))
    assert pendulum.mbpo.updates_per_step == 3 and pendulum.schedule.initial_samples == 100
    assert run.config_from_args(run.build_parser().parse_args([])).model_player == "deterministic"
    # recipes select the backend with --set; the defaults follow it
    via_set = run.config_from_args(run.build_parser().parse_args(["--set", "run.policy=mbpo",
                                                                "--set", "run.task=hopper"]))
    assert via_set.mbpo.updates_per_step == 20 and via_set.schedule.initial_samples == 5000


def test_mbpo_short_run_and_exact_resume(tmp_path):
    """--policy mbpo writes the same outputs as NPG runs, with SAC's numbers as policy extras,
    and resumes exactly (SAC, model buffer and both RNGs are in the checkpoint)."""
    full, part = tmp_path / "full", tmp_path / "part"
    assert run.main(MBPO_FAST + ["--out", str(full)]) == 0
    rows = list(csv.DictReader(open(full / "metrics.csv")))
    samples = [int(r["samples"]) for r in rows]
    assert len(rows) == 3 and samples[-1] >= 700  # episodes are collected whole
    assert float(rows[-1]["policy_alpha"]) != 1.0  # the temperature was tuned
    assert int(rows[-1]["improve_steps"]) == samples[-1] - samples[-2]  # G=1 update per new step
    assert 'policy = "mbpo"' in (full / "config.toml").read_text()
    assert run.main(MBPO_FAST + ["--samples", "500", "--out", str(part)]) == 0
    assert run.main(["--resume", "--out", str(part), "--samples", "700", "--no-progress"]) == 0
    rows_part = list(csv.DictReader(open(part / "metrics.csv")))
    assert _without_timing(rows_part) == _without_timing(rows)


def test_a_run_folder_in_use_is_refused(tmp_path, capsys):
    """A second process (e.g. a sweep resuming a live run) must not write the same folder."""
    holder = run.lock_run_folder(tmp_path / "busy")
    try:
        code = subprocess.run([sys.executable, "-m", "stackelberg.run", *FAST, "--out",
                               str(tmp_path / "busy")], capture_output=True, text=True)
        assert code.returncode == 2
        assert "in use by another running process" in code.stderr and "Traceback" not in code.stderr
    finally:
        holder.close()
    assert run.main(FAST + ["--out", str(tmp_path / "busy")]) == 0  # free again once released


def test_perturbations_from_flags_and_toml_are_recorded_with_their_sizes(tmp_path):
    """--perturb (repeatable) and run.perturb in TOML give the same resolved list, sizes filled
    in, so a run folder's config.toml says exactly which change was made."""
    flags = run.config_from_args(run.build_parser().parse_args(
        ["--task", "reacher-7dof", "--samples", "20000", "--perturb", "dynamics@10000",
         "--perturb", "goals@8000"]))
    toml = tmp_path / "p.toml"
    toml.write_text('[run]\ntask = "reacher-7dof"\nsamples = 20000\n'
                    'perturb = ["dynamics@10000", "goals@8000"]\n')
    from_file = run.config_from_args(run.build_parser().parse_args(["--config", str(toml)]))
    via_set = run.config_from_args(run.build_parser().parse_args(
        ["--task", "reacher-7dof", "--samples", "20000",
         "--set", "run.perturb=dynamics@10000;goals@8000"]))
    expected = ("dynamics@10000:target=forearm,scale=1.3", "goals@8000:dx=0,dy=-1.2,dz=0")
    texts = lambda config: tuple(p.to_text() for p in config.run.perturb)
    assert texts(flags) == texts(from_file) == texts(via_set) == expected
    assert config_record(flags)["run"]["perturb"] == list(expected)


def test_a_task_sets_its_paper_schedule_for_one_solver_below_files_and_flags(tmp_path):
    """[P] B.1 reports the hand with N = 10 x H for PAL: pen's PAL takes it, MAL keeps its 20 x H,
    other tasks keep 5 x H, a config file or a flag still wins, and the saved value is what a
    resumed folder reads (an older pen folder keeps the 5 x H it ran with)."""
    def resolved(*argv):
        return run.config_from_args(run.build_parser().parse_args(list(argv)))

    assert resolved("--task", "pen").schedule.samples_horizon_multiple == 10
    assert resolved("--task", "pen", "--algo", "mal").schedule.samples_horizon_multiple == 20
    assert resolved("--task", "dclaw-turn").schedule.samples_horizon_multiple == 5
    assert resolved("--task", "pen", "--samples-horizon-multiple", "5").schedule.samples_horizon_multiple == 5
    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\ntask = "pen"\n[schedule]\nsamples_horizon_multiple = 3\n')
    assert resolved("--config", str(cfg)).schedule.samples_horizon_multiple == 3
    saved = tmp_path / "config.toml"
    old = resolved("--task", "pen-noterm", "--samples-horizon-multiple", "5")
    saved.write_text(config_to_toml(old))
    assert load_saved_config(saved).schedule.samples_horizon_multiple == 5


def test_a_task_can_default_any_config_section_for_one_solver():
    """`Task.algo_defaults` holds config sections, not just the schedule: a task of one's own sets
    PAL's model and NPG keys, MAL keeps the library's, a flag still wins, and an unknown section
    is refused by name when the config resolves."""
    import dataclasses
    from stackelberg import tasks
    from stackelberg.core.errors import UserInputError

    def resolved(*argv):
        return run.config_from_args(run.build_parser().parse_args(list(argv)))

    def tuned():
        return dataclasses.replace(tasks.make("inverted-pendulum"), name="pendulum-tuned", algo_defaults={
            "pal": {"model": {"ensemble_size": 2}, "npg": {"delta": 0.02}}})

    def broken():
        return dataclasses.replace(tasks.make("inverted-pendulum"), name="pendulum-broken",
                                   algo_defaults={"pal": {"modle": {"ensemble_size": 2}}})

    tasks.register("pendulum-tuned", tuned)
    tasks.register("pendulum-broken", broken)
    try:
        pal = resolved("--task", "pendulum-tuned")
        assert (pal.model.ensemble_size, pal.npg.delta) == (2, 0.02)
        mal = resolved("--task", "pendulum-tuned", "--algo", "mal")
        library = resolved("--task", "inverted-pendulum", "--algo", "mal")
        assert (mal.model.ensemble_size, mal.npg.delta) == (library.model.ensemble_size, library.npg.delta)
        assert resolved("--task", "pendulum-tuned", "--set", "npg.delta=0.07").npg.delta == 0.07
        with pytest.raises(UserInputError, match="modle"):
            resolved("--task", "pendulum-broken")
    finally:
        tasks._REGISTRY.pop("pendulum-tuned")
        tasks._REGISTRY.pop("pendulum-broken")


def test_a_run_recorded_with_the_old_npg_steps_key_resumes_unchanged(tmp_path, capsys):
    """`schedule.policy_steps` was `schedule.npg_steps`: a folder whose config.toml and
    checkpoint say so resumes without a change, and the old key and flag still set the knob."""
    out = tmp_path / "run"
    assert run.main(FAST + ["--samples", "400", "--policy-steps", "2", "--out", str(out)]) == 0
    config_file = out / "config.toml"
    config_file.write_text(config_file.read_text().replace("policy_steps = 2", "npg_steps = 2"))
    state = load_checkpoint(out / "checkpoint.pt")
    state["config"]["schedule"]["npg_steps"] = state["config"]["schedule"].pop("policy_steps")
    torch.save(state, out / "checkpoint.pt")
    assert load_saved_config(config_file).schedule.policy_steps == 2
    capsys.readouterr()
    assert run.main(["--resume", "--out", str(out), "--samples", "650", "--no-progress"]) == 0
    assert "resuming with" not in capsys.readouterr().err  # no knob changed
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 3
    for flags in (["--npg-steps", "3"], ["--set", "schedule.npg_steps=3"]):
        assert run.config_from_args(run.build_parser().parse_args(flags)).schedule.policy_steps == 3
