"""`stackelberg.analysis.bench`: the baselines it times compute the same thing as the library's fast
paths (otherwise a speed-up would mean nothing), and the bench runs end to end."""
import json
import math
import random

import pytest
import torch

from stackelberg.cli import bench as bench_cli
from stackelberg.cli import run as run_cli
from stackelberg.config import config_changes
from stackelberg.core.game import IterationReport
from stackelberg.runner.run_folder import RunFolder
from stackelberg.analysis import bench
from stackelberg.analysis import bench_baselines as base
from stackelberg.models.ensemble import EnsembleMLP
from stackelberg import ModelConfig
from stackelberg.models.deterministic import DynamicsEnsemble
from stackelberg.npg.policy import GaussianMLPPolicy
from stackelberg.npg.step import fisher_vector_product


def test_double_backward_fisher_product_equals_the_closed_form():
    torch.manual_seed(0)
    policy = GaussianMLPPolicy(5, 2, (16, 16), init_log_std=-0.3).double()
    with torch.no_grad():  # away from the near-zero initial output layer
        for p in policy.parameters():
            p.add_(0.3 * torch.randn_like(p))
    obs = torch.randn(300, 5, dtype=torch.float64)
    v = torch.randn(sum(p.numel() for p in policy.parameters()), dtype=torch.float64)
    slow = fisher_vector_product(policy, obs, 1e-3)(v)
    fast = policy.fisher_vector_product(obs, 1e-3)(v)
    assert torch.allclose(slow, fast, rtol=1e-9, atol=1e-12)


def test_member_loop_is_the_same_ensemble():
    torch.manual_seed(0)
    net = EnsembleMLP(3, 6, 4, (8, 8))
    x = torch.randn(3, 10, 6)
    assert torch.allclose(base.loop_forward(base.member_loop(net), x), net(x), atol=1e-6)


def test_flop_count_is_the_ensembles_matmuls():
    """2 * in * out per layer and member: 4 members of 5+2 -> 8 -> 8 -> 5."""
    model = DynamicsEnsemble(5, 2, ModelConfig(ensemble_size=4, hidden_sizes=(8, 8)))
    assert bench.ensemble_flops_per_row(model) == 4 * 2 * (7 * 8 + 8 * 8 + 8 * 5)


def test_the_timed_train_steps_are_the_same_update():
    """Every variant the bench times takes the same Adam step from the same weights: a speed-up
    of one over another is then a speed-up of the same computation."""
    torch.manual_seed(0)
    net = EnsembleMLP(3, 6, 4, (8,))
    members = base.member_loop(net)
    x, y = torch.randn(3, 10, 6), torch.randn(3, 10, 4)
    batched = EnsembleMLP(3, 6, 4, (8,))
    batched.load_state_dict(net.state_dict())
    before = batched(x).detach()
    base.train_step(lambda t: base.loop_forward(members, t), torch.optim.Adam(members.parameters()), x, y)
    base.train_step(batched, torch.optim.Adam(batched.parameters(), fused=True), x, y)
    assert torch.allclose(base.loop_forward(members, x), batched(x), atol=1e-6)
    assert not torch.allclose(batched(x), before, atol=1e-4)  # a step was taken


def test_quick_bench_writes_every_section(tmp_path, capsys):
    out = tmp_path / "bench.json"
    argv = ["--quick", "--threads", "1", "--tasks", "inverted-pendulum", "--out", str(out)]
    assert bench_cli.main(argv) == 0
    result = json.loads(out.read_text())
    assert result["sections"] == list(bench_cli.SECTIONS)
    assert result["fvp"]["max_relative_difference"] < 1e-4
    variants = result["ensemble_variants"]
    keys = ("loop_foreach_adam", "batched_foreach_adam", "batched_fused_adam", "batched_fused_adam_bf16")
    # one flop count for all: gflops * seconds is the same computation in every variant
    work = [variants[k]["gflops"] * variants[k]["seconds"] for k in keys]
    assert max(work) == pytest.approx(min(work), rel=1e-9)
    # every timed row: a median inside its spread
    for row, key in [(result["matmul"], "gflops"), (result["ensemble"][0], "train_gflops"),
                     (result["fvp"], "closed_form_cg_seconds"), (variants["batched_fused_adam"], "seconds"),
                     (result["pal_iteration"][0], "seconds")]:
        assert row[f"{key}_min"] <= row[key] <= row[f"{key}_max"]
    solve = result["solve"]
    runs = {name: solve["configurations"][name]["runs"] for name in ("paper", "library", "fast-fit")}
    assert set(solve["ratio"]) == {"library", "fast-fit"}
    assert all(len(r) == 1 and r[0]["iterations"] == len(r[0]["eval_returns"]) for r in runs.values())
    assert result["per_1000_samples"][0]["configurations"]["paper"]["samples"] > 0
    printed = capsys.readouterr().out
    assert "closed form" in printed and "time to solve" in printed and "per 1000 samples" in printed


def test_solve_configurations_differ_only_in_the_fit_and_denormal_flushing():
    """"paper" is the library's config with [P]'s fixed-epoch float32 fit and no denormal flushing,
    "fast-fit" the library's with the held-out early stop, whatever the defaults are."""
    paper = bench.game_config("inverted-pendulum", 1, "paper", threads=1, samples=15_000)
    library = bench.game_config("inverted-pendulum", 1, "library", threads=1, samples=15_000)
    fast = bench.game_config("inverted-pendulum", 1, "fast-fit", threads=1, samples=15_000)
    assert paper.model.holdout_fraction == 0.0 and paper.run.flush_denormal is False
    assert paper.model.fit_precision == "float32" and fast.model.holdout_fraction == 0.2
    changed = set(config_changes(library, paper))
    expected = {key for key, value in (("model.holdout_fraction", library.model.holdout_fraction != 0.0),
                                       ("run.flush_denormal", library.run.flush_denormal),
                                       ("model.fit_precision", library.model.fit_precision != "float32"))
                if value}
    assert changed == expected
    assert set(config_changes(fast, library)) == {"model.holdout_fraction"}
    assert (paper.run.seed, paper.run.samples, paper.run.threads) == (1, 15_000, 1)
    # the bench's --set reaches all, and cannot make "paper" stop being the paper's fit
    pinned = bench.game_config("inverted-pendulum", 0, "paper", [("model.holdout_fraction", "0.3")])
    assert pinned.model.holdout_fraction == 0.0


def test_configurations_flag_always_plays_the_baseline():
    args = bench_cli.build_parser().parse_args(["--only", "solve", "per1k", "--configurations", "fast-fit",
                                                "--solve-seeds", "0", "1", "--per1k-tasks", "hopper"])
    games = bench_cli.plan(args)
    assert list(games["solve"]) == ["paper", "fast-fit"] and len(games["solve"]["paper"]) == 2
    assert list(games["per1k"][0][0]) == ["paper", "fast-fit"]


def _report(eval_return: float, iteration: int) -> IterationReport:
    return IterationReport(iteration=iteration, samples=100 * (iteration + 1), eval_return=eval_return,
                           eval_success=math.nan, eval_score=math.nan, model_return=0.0,
                           model_loss_fresh=0.0, model_train_loss=0.0, policy_kl=0.0, train_return=0.0,
                           fit_steps=0, improve_steps=0, buffer_size=0, collect_seconds=0.1,
                           fit_seconds=0.2, improve_seconds=0.3, eval_seconds=0.4, seconds=1.0)


def test_play_until_stops_at_the_first_solving_iteration():
    rng = random.Random(0)
    for _ in range(300):
        returns = [rng.choice([rng.uniform(0, 1000), math.nan, 950.0]) for _ in range(rng.randint(1, 8))]
        read: list[int] = []

        def reports():
            for i, r in enumerate(returns):
                read.append(i)
                yield _report(r, i)

        taken, solved = bench.play_until(reports(), 950.0)
        first = next((i for i, r in enumerate(returns) if r >= 950.0), None)
        assert solved == (first is not None)
        expected = len(returns) if first is None else first + 1
        assert [t.iteration for t in taken] == list(range(expected))
        assert read == list(range(expected))  # the game is not stepped past the solve


def test_phase_seconds_and_censored_median():
    totals = bench.phase_seconds([_report(0.0, 0), _report(0.0, 1)])
    assert totals == pytest.approx({"seconds": 2.0, "collect_seconds": 0.2, "fit_seconds": 0.4,
                                    "improve_seconds": 0.6, "eval_seconds": 0.8})
    runs = [{"solved": True, "samples": 3}, {"solved": False, "samples": 9}, {"solved": True, "samples": 5}]
    assert bench.censored_median(runs, "samples") == 5  # the unsolved seed counts as the longest
    assert bench.censored_median(runs[1:2] + runs[1:2] + runs[:1], "samples") is None


def test_time_row_warms_up_then_times_the_repeats():
    calls: list[int] = []
    timing = bench.time_row(lambda: calls.append(1), repeats=7, warmup_seconds=0.0)
    assert timing.warmup_calls == 1 and timing.repeats == 7 and len(calls) == 8
    assert timing.min <= timing.median <= timing.max


def test_bench_game_is_the_run_game(tmp_path):
    """The bench plays the game `python -m stackelberg.run` plays with the same config: the same
    iterations, to the last bit."""
    sets = ["schedule.initial_samples=300", "schedule.samples_per_iteration=300",
            "schedule.model_epochs=2", "npg.num_trajectories=8",
            "npg.horizon_cap=20", "model.hidden_sizes=32,32"]
    threads = torch.get_num_threads()
    try:
        argv = ["--task", "inverted-pendulum", "--seed", "3", "--samples", "600", "--threads", "1",
                "--eval-episodes", "2", "--no-progress", "--out", str(tmp_path / "run")]
        assert run_cli.main(argv + [a for item in sets for a in ("--set", item)]) == 0
        overrides = [(k, v) for k, _, v in (item.partition("=") for item in sets)]
        config = bench.game_config("inverted-pendulum", 3, "library",
                                   overrides + [("run.eval_episodes", 2)], threads=1, samples=600)
        reports = list(bench.make_game(config).play(config.run.samples))
    finally:
        torch.set_num_threads(threads)
    folder = RunFolder(tmp_path / "run")
    assert set(config_changes(folder.read_config(), config)) <= {"run.out"}
    rows = folder.read_metrics()
    assert len(rows) == len(reports) == 2
    for row, report in zip(rows, reports):
        for key in ("samples", "eval_return", "model_train_loss", "train_return", "policy_kl"):
            assert float(row[key]) == getattr(report, key), key


@pytest.mark.parametrize("argv, says", [
    (["--solve-cap", "0"], "--solve-cap"),
    (["--only", "nothing"], "invalid choice"),
    (["--set", "model.nonsense=1"], "model.nonsense"),
    (["--per1k-tasks", "hopper", "pen", "--per1k-iterations", "1", "2", "3"], "one per task"),
    (["--solve-task", "no-such-task"], "no-such-task"),
])
def test_bad_arguments_are_one_line_and_exit_2(argv, says, tmp_path, capsys):
    try:
        code = bench_cli.main(argv + ["--out", str(tmp_path / "b.json")])
    except SystemExit as stop:  # argparse's own errors exit; ours return the code
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1 and err.startswith("error:")
    assert not (tmp_path / "b.json").exists()


def test_per1k_iterations_per_task():
    assert bench_cli.per1k_iterations(["hopper", "dclaw-turn", "pen"], None) == [5, 10, 5]
    assert bench_cli.per1k_iterations(["hopper", "pen"], [3]) == [3, 3]
    assert bench_cli.per1k_iterations(["hopper", "pen"], [3, 4]) == [3, 4]


RECORDS = __import__("pathlib").Path(__file__).resolve().parents[1] / "runs" / "speed" / "records"


@pytest.mark.parametrize("name", sorted(p.name for p in RECORDS.glob("bench*.json")))
def test_show_prints_every_committed_record_without_measuring(name, capsys):
    assert bench_cli.main(["--show", str(RECORDS / name)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("measured on x86_64 (CPU model and bfloat16 support not recorded)")
    record = json.loads((RECORDS / name).read_text())
    if "solve" in record:
        medians = record["solve"]["configurations"]
        assert all(f"{m['median']['seconds']:.1f}" in out for m in medians.values())
    for row in record.get("pal_iteration", []):
        assert f"PAL iteration {row['iteration']} on {row['task']}" in out
        assert f"{row['seconds']:.1f} s (fit {row['fit_seconds']:.1f}" in out


def test_show_names_the_cpu_a_new_record_was_measured_on():
    line = bench_cli.machine_line({"cpu": "AMD EPYC 7B13", "native_bfloat16": False,
                                   "torch": "2.13.0+cpu", "threads": 1})
    assert line == "measured on AMD EPYC 7B13 (native bfloat16: no), torch 2.13.0+cpu, 1 thread(s)"


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"solve": {"task": "x"}}'])
def test_show_refuses_what_the_bench_did_not_write(tmp_path, capsys, text):
    path = tmp_path / "b.json"
    path.write_text(text)
    assert bench_cli.main(["--show", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is not a JSON file `python -m stackelberg.bench` wrote" in err and "Traceback" not in err
    assert bench_cli.main(["--show", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
