"""`stackelberg.analysis.report`: the interval against scipy, targets, and recovery after a world change."""
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from stackelberg.cli import report as report_cli
from stackelberg.analysis import report
from stackelberg.core.errors import UserInputError
from stackelberg.analysis.report import RunCurve


def curve(samples, values, changes=()):
    samples = np.asarray(samples, dtype=float)
    return RunCurve(None, "t", "pal", 0, samples, np.asarray(values, dtype=float),
                    np.arange(1, len(samples) + 1, dtype=float), tuple(changes))


def test_interval_is_the_student_t_interval_of_the_mean():
    rows = np.array([[1.0, 5.0], [2.0, 7.0], [4.0, 6.0]])
    mean, half = report.mean_and_ci(rows)
    for j in range(2):
        low, high = stats.t.interval(0.95, 2, loc=rows[:, j].mean(), scale=stats.sem(rows[:, j]))
        assert np.isclose(mean[j], rows[:, j].mean()) and np.isclose(half[j], (high - low) / 2)
    assert report.mean_and_ci(np.full((3, 1), 0.2))[1][0] == 0.0  # equal seeds: no interval, not 8e-17
    # a grid point only one seed covers has no interval
    _, half = report.mean_and_ci(np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert half[1] == 0


def test_targets_count_up_for_returns_and_down_for_costs():
    c = curve([100, 200, 300], [0.9, 0.4, 0.2])
    assert c.first_reaching(0.5) == 100
    assert c.first_reaching(0.5, lower_is_better=True) == 200
    assert c.first_reaching(0.1, lower_is_better=True) is None


def test_recovery_is_measured_from_the_change_to_the_first_eval_back_at_the_old_level():
    # distance 0.3 before the change at 400 samples, 0.9 right after, back to <= 0.3 at 700
    c = curve([100, 200, 300, 400, 500, 600, 700], [0.5, 0.3, 0.3, 0.3, 0.9, 0.5, 0.25])
    level, first, back = c.recovery(400, lower_is_better=True)
    assert np.isclose(level, 0.3) and first == 0.9 and back == 300
    assert np.isclose(c.mean_after(400), (0.9 + 0.5 + 0.25) / 3)
    assert c.recovery(400, lower_is_better=False)[2] == 100  # as a return, 0.9 is "better"
    assert curve([100, 200], [1.0, 0.5]).recovery(100, lower_is_better=False)[2] is None


def test_changes_are_read_from_the_metrics_column(tmp_path):
    (tmp_path / "config.toml").write_text('[run]\ntask = "reacher-7dof"\nalgo = "mal"\nseed = 2\n')
    (tmp_path / "metrics.csv").write_text(
        "samples,eval_score,seconds,perturbation\n1000,0.5,1,\n2000,0.4,1,\n3000,0.8,1,goals@1500\n")
    c = report.load_run(tmp_path, "eval_score")
    assert c.changes == ((2000, "goals@1500"),)  # fired before the collection that began at 2000
    text = report.table(report.group([c]), "eval_score", None, lower_is_better=True)
    assert "| reacher-7dof | mal | 2 | goals@1500 | 2000 | 0.45 | 0.8 | 0.8 | not within the run |" in text


def test_until_keeps_the_part_of_a_run_before_its_world_changed(tmp_path):
    c = curve([100, 200, 300, 400], [0.5, 0.3, 0.9, 0.4], changes=[(200, "goals@150")])
    nominal = c.until(200)
    assert list(nominal.samples) == [100, 200] and list(nominal.values) == [0.5, 0.3]
    assert nominal.changes == ()  # the change came after the evaluation at 200
    assert c.until(300).changes == ((200, "goals@150"),)
    with pytest.raises(UserInputError, match="no evaluation at or before 50"):
        c.until(50)


def test_until_on_the_command_line(tmp_path, capsys):
    (tmp_path / "config.toml").write_text('[run]\ntask = "t"\nalgo = "pal"\nseed = 0\n')
    (tmp_path / "metrics.csv").write_text(
        "samples,eval_return,seconds,perturbation\n1000,10,1,\n2000,20,1,\n3000,5,1,goals@2000\n")
    assert report_cli.main([str(tmp_path), "--until", "2000"]) == 0
    assert "| t | pal | 1 | 2000 | 20 (one seed) | 20 | 1.0 | 1.0 |" in capsys.readouterr().out
    assert report_cli.main([str(tmp_path), "--until", "500"]) == 2
    assert "no evaluation at or before 500" in capsys.readouterr().err


def write_run(folder, seed, extra="", values=(10, 20)):
    folder.mkdir()
    (folder / "config.toml").write_text(
        f'[run]\ntask = "t"\nalgo = "pal"\nseed = {seed}\nout = "{folder}"\nthreads = {seed + 1}\n'
        f'[model]\nensemble_size = 4\n{extra}')
    rows = "".join(f"{1000 * (i + 1)},{v},1,\n" for i, v in enumerate(values))
    (folder / "metrics.csv").write_text("samples,eval_return,seconds,perturbation\n" + rows)


def test_runs_whose_configs_differ_are_reported_apart_and_named_by_the_difference(tmp_path, capsys):
    write_run(tmp_path / "a0", 0, "wrap_angles = false\n")
    write_run(tmp_path / "a1", 1, "wrap_angles = false\n")
    write_run(tmp_path / "b0", 0, "wrap_angles = true\n", values=(30, 40))
    assert report_cli.main([str(tmp_path / n) for n in ("a0", "a1", "b0")]) == 0
    out = capsys.readouterr().out
    assert "| t | pal [model.wrap_angles=false] | 2 | 2000, 2000 | 20 ± 0 |" in out
    assert "| t | pal [model.wrap_angles=true] | 1 | 2000 | 40 (one seed) |" in out
    assert report.method_name("pal [model.wrap_angles=false]") == "PAL [model.wrap_angles=false]"
    # --pool: one group for the algorithm, and the differing key is said, not hidden
    assert report_cli.main([str(tmp_path / n) for n in ("a0", "a1", "b0")] + ["--pool"]) == 0
    out = capsys.readouterr().out
    assert "note: t pal pools runs that differ in model.wrap_angles" in out
    assert "| t | pal | 3 | 2000, 2000, 2000 |" in out


def test_seeds_output_folders_and_a_key_only_newer_configs_have_do_not_split_a_group(tmp_path):
    write_run(tmp_path / "old", 0)
    write_run(tmp_path / "new", 1, "wrap_angles = true\n")
    curves = report.label_variants([report.load_run(tmp_path / n, "eval_return") for n in ("old", "new")])
    assert list(report.group(curves)) == [("t", "pal")]


def test_an_option_added_later_splits_a_group_when_set_away_from_its_default(tmp_path):
    """An older config.toml lacks a key added since (it ran without the option): it is read as
    the option's default, so a newer run that switched the option on is a variant of its own."""
    write_run(tmp_path / "old", 0)
    write_run(tmp_path / "off", 1, "holdout_fraction = 0.0\n")
    write_run(tmp_path / "on", 2, "holdout_fraction = 0.2\n")
    curves = report.label_variants([report.load_run(tmp_path / n, "eval_return")
                                    for n in ("old", "off", "on")])
    assert [c.algo for c in curves] == ["pal [model.holdout_fraction=0.0]"] * 2 + \
        ["pal [model.holdout_fraction=0.2]"]
    # a key today's config does not know is still not compared
    write_run(tmp_path / "odd", 3, "retired_option = 7\n")
    assert report.differing_keys([report.load_run(tmp_path / n, "eval_return")
                                  for n in ("old", "odd")]) == []


def test_bins_average_the_evaluations_inside_each_bin_and_skip_missing_values():
    c = curve([1000, 4000, 5000, 9000, 12000], [1.0, np.nan, 3.0, 5.0, 7.0])
    assert c.binned(5000) == {0: 1.0, 5000: 4.0, 10000: 7.0}
    assert np.isnan(curve([1000], [np.nan]).binned(5000)[0])  # a bin with no value stays empty
    short = curve([1000, 6000], [2.0, 0.5])
    text = report.bins_table(report.group([c, short]), "eval_score", 5000)
    assert "| t | pal | 0 | 1 | 4 | 7 |" in text
    assert "| t | pal | 0 | 2 | 0.5 | - |" in text  # the shorter run has no 10,000+ bin


def test_bins_on_the_command_line(tmp_path, capsys):
    (tmp_path / "config.toml").write_text('[run]\ntask = "reacher-7dof"\nalgo = "mal"\nseed = 2\n')
    (tmp_path / "metrics.csv").write_text("samples,eval_score,seconds\n1000,0.5,1\n2000,0.3,1\n3000,0.1,1\n")
    assert report_cli.main([str(tmp_path), "--metric", "eval_score", "--bins", "2000"]) == 0
    assert "| reacher-7dof | mal | 2 | 0.5 | 0.2 |" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:  # argparse's refusal: one line, exit code 2
        report_cli.main([str(tmp_path), "--bins", "0"])
    assert stop.value.code == 2
    assert "--bins: must be a whole number of samples >= 1" in capsys.readouterr().err


def test_smoothing_is_the_trailing_window_mean_of_the_evaluations_brute_force():
    rng = np.random.default_rng(0)
    samples = np.cumsum(rng.integers(100, 700, size=60)).astype(float)
    values = rng.random(60)
    values[rng.random(60) < 0.2] = np.nan
    smoothed = curve(samples, values).smoothed(1500).values
    for i, s in enumerate(samples):
        inside = values[(samples > s - 1500) & (samples <= s)]
        inside = inside[~np.isnan(inside)]
        if inside.size:
            assert smoothed[i] == pytest.approx(inside.mean())
        else:
            assert np.isnan(smoothed[i])
    # a window narrower than the gap between evaluations leaves every value as it was
    narrow = curve(samples, values).smoothed(50).values
    assert np.array_equal(np.isnan(narrow), np.isnan(values))
    assert np.allclose(narrow[~np.isnan(values)], values[~np.isnan(values)])


def test_smooth_on_the_command_line_plots_and_rejects_a_bad_window(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.toml").write_text('[run]\ntask = "dclaw-turn"\nalgo = "pal"\nseed = 0\n')
    (run / "metrics.csv").write_text("samples,eval_success,seconds\n1000,0,1\n2000,1,1\n3000,0.4,1\n")
    figure = tmp_path / "smooth.png"
    assert report_cli.main([str(run), "--metric", "eval_success", "--smooth", "2000", "--plot", str(figure)]) == 0
    assert figure.stat().st_size > 0
    assert "| dclaw-turn | pal | 1 | 3000 | 0.4 (one seed) | 1 |" in capsys.readouterr().out  # table stays raw
    assert report_cli.main([str(run), "--smooth", "-5"]) == 2
    assert "--smooth must be a positive number" in capsys.readouterr().err


PUBLISHED = "# task: t\n# label: Other (2019)\nsamples,mean,std\n1000,5,1\n2000,15,\n3000,30,2\n"


def test_a_published_curve_is_listed_apart_with_where_its_mean_reaches_the_target(tmp_path, capsys):
    write_run(tmp_path / "a0", 0)
    (tmp_path / "pub.csv").write_text(PUBLISHED)
    curve = report.load_published(tmp_path / "pub.csv")
    assert curve.task == "t" and curve.label == "Other (2019)" and list(curve.samples) == [1000, 2000, 3000]
    assert np.isnan(curve.std[1]) and curve.std[2] == 2 and curve.first_reaching(15) == 2000
    png = tmp_path / "fig.png"
    assert report_cli.main([str(tmp_path / "a0"), "--target", "15", "--published", str(tmp_path / "pub.csv"),
                            "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert "| t | pal | 1 | 2000 | 20 (one seed) | 20 | 2000 |" in out  # the run, unchanged
    assert "| t | Other (2019) (published) | - | 3000 | 30 (published mean) | 30 | 2000 (mean curve) | - | - |" in out
    assert png.stat().st_size > 5000


@pytest.mark.parametrize("text,message", [
    ("samples,mean\n1000,5\n", "needs '# task: ...'"),
    ("# task: t\n# label: x\nsamples,value\n1000,5\n", "columns samples,mean"),
    ("# task: t\n# label: x\nsamples,mean\n2000,5\n1000,6\n", "samples must be finite and increase"),
    ("# task: t\n# label: x\nsamples,mean\n1000,high\n", "row 1 column mean is not a number"),
])
def test_a_malformed_published_curve_is_one_line_and_exit_2(tmp_path, capsys, text, message):
    write_run(tmp_path / "a0", 0)
    (tmp_path / "pub.csv").write_text(text)
    assert report_cli.main([str(tmp_path / "a0"), "--published", str(tmp_path / "pub.csv")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_record_without_a_key_added_later_is_labelled_with_what_it_ran(tmp_path, capsys):
    """`model.fit_precision` arrived with default float32 and became "auto" later: a record
    without the key ran float32, and is named so beside a bfloat16 one."""
    write_run(tmp_path / "old", 0)
    write_run(tmp_path / "new", 1, 'fit_precision = "bfloat16"\n', values=(30, 40))
    assert report_cli.main([str(tmp_path / "old"), str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "| t | pal [model.fit_precision=float32] | 1 |" in out
    assert "| t | pal [model.fit_precision=bfloat16] | 1 |" in out


def test_samples_to_target_get_a_mean_interval_and_a_ratio_between_methods(tmp_path, capsys):
    """[P]'s "about twice as sample-efficient" as a number: mean samples to the target per method,
    divided pairwise; a method with a seed that never gets there has no mean and is left out."""
    write_run(tmp_path / "a0", 0, values=(10, 20, 30))  # reaches 15 at 2000
    write_run(tmp_path / "a1", 1, values=(20, 20, 30))  # at 1000
    write_run(tmp_path / "b0", 0, 'normalization = "mad"\n', values=(10, 10, 20))  # at 3000
    write_run(tmp_path / "c0", 0, 'normalization = "other"\n', values=(10, 10, 10))  # never
    (tmp_path / "pub.csv").write_text(PUBLISHED)  # its mean reaches 15 at 2000
    folders = [str(tmp_path / n) for n in ("a0", "a1", "b0", "c0")]
    assert report_cli.main(folders + ["--target", "15", "--published", str(tmp_path / "pub.csv")]) == 0
    out = capsys.readouterr().out
    low, high = stats.t.interval(0.95, 1, loc=1500, scale=stats.sem([2000, 1000]))
    assert f"| 2000, 1000 (mean 1500 ± {(high - low) / 2:.0f}) |" in out
    assert "| 3000 |" in out and "| not reached |" in out  # one seed: no mean to add
    table = [line.strip("|").split(" | ") for line in out.split("row / column")[1].splitlines()
             if line.startswith("| ")]
    names = [n.strip() for n in table[0][1:]]
    ratio = {(row[0].strip(), b): float(cell) for row in table[1:] for b, cell in zip(names, row[1:])}
    a, b, pub = "t pal [model.normalization=std]", "t pal [model.normalization=mad]", "t Other (2019) (published)"
    assert sorted(names) == sorted([a, b, pub])  # the method with a seed that never reached it is out
    assert ratio[(a, b)] == 0.5 and ratio[(b, a)] == 2.0 and ratio[(a, pub)] == 0.75
    assert ratio[(b, pub)] == 1.5 and ratio[(pub, pub)] == 1.0
    # a single method that reaches the target has nothing to be compared with
    assert report.ratio_table({("t", "pal"): [report.load_run(tmp_path / "b0", "eval_return")]}, [], 15, False) == ""


def test_the_mean_over_seeds_is_drawn_only_where_every_seed_has_data():
    """Seeds that stop at 59.3k, 59.8k and 60.9k: past 59.3k the "mean" would be one or two seeds."""
    xs = [np.array([2500.0, 30000, 59338]), np.array([2501.0, 30000, 59755]), np.array([2600.0, 60874])]
    grid = report.shared_grid(xs)
    assert grid[0] == 2600 and grid[-1] == 59338 and len(grid) == 200
    values = report.on_grid([curve(x, np.ones_like(x)) for x in xs], grid)
    assert not np.isnan(values).any()  # every grid point has every seed


def write_timed_run(folder, algo, seed, rows, task="t"):
    """A run folder with the metrics columns `timing_table` reads."""
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(f'[run]\ntask = "{task}"\nalgo = "{algo}"\nseed = {seed}\n')
    lines = ["samples,eval_return,seconds,fit_seconds,improve_seconds,collect_seconds,eval_seconds"]
    lines += [",".join(str(v) for v in row) for row in rows]
    (folder / "metrics.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_labels_name_the_groups_and_refuse_typos_and_overlaps(tmp_path):
    rows = [(100, 1.0, 1, 1, 0, 0, 0)]
    curves = [report.load_run(write_timed_run(tmp_path / f"x-{a}-s{s}", a, s, rows), "eval_return")
              for a in ("pal", "mal") for s in (0, 1)]
    labelled = report.apply_labels(curves, [report.parse_label("PAL, all data=*-pal-s?")])
    assert [c.algo for c in labelled] == ["PAL, all data", "PAL, all data", "mal", "mal"]
    assert list(report.group(labelled)) == [("t", "PAL, all data"), ("t", "mal")]
    with pytest.raises(UserInputError, match="matches none of the run folders"):
        report.apply_labels(curves, [("X", "*-gda-s?")])
    with pytest.raises(UserInputError, match="matches two labels"):
        report.apply_labels(curves, [("A", "*-s0"), ("B", "*-pal-*")])
    for bad in ("no-equals-sign", "=*glob", "name="):
        with pytest.raises(UserInputError, match="NAME=GLOB"):
            report.parse_label(bad)


def test_a_label_pools_differing_runs_and_says_so(tmp_path, capsys):
    a = write_timed_run(tmp_path / "a-pal-s0", "pal", 0, [(100, 1.0, 1, 1, 0, 0, 0)])
    b = write_timed_run(tmp_path / "b-pal-s1", "pal", 1, [(100, 3.0, 1, 1, 0, 0, 0)])
    (b / "config.toml").write_text('[run]\ntask = "t"\nalgo = "pal"\nseed = 1\n[npg]\nmax_kl = 0.5\n')
    assert report_cli.main([str(a), str(b)]) == 0  # unlabelled: two variants
    assert "pal [npg.max_kl=" in capsys.readouterr().out
    assert report_cli.main([str(a), str(b), "--label", "PAL=*-pal-s?"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("note: t PAL pools runs that differ in npg.max_kl\n\n| task |")
    assert "| t | PAL | 2 | 100, 100 | 2 ± 12.7 |" in out
    assert report_cli.main([str(a), "--label", "PAL"]) == 2
    assert "NAME=GLOB" in capsys.readouterr().err


def test_timing_counts_after_the_initial_iteration_and_the_seconds_to_a_target(tmp_path):
    # (samples, eval_return, seconds, fit, improve, collect, eval)
    rows = [(500, 10.0, 7.0, 6.0, 0.5, 0.4, 0.1), (700, 400.0, 4.0, 1.0, 2.0, 0.5, 0.5),
            (900, 980.0, 6.0, 2.0, 3.0, 0.5, 0.5), (1100, 990.0, 10.0, 5.0, 4.0, 0.5, 0.5)]
    c = report.load_run(write_timed_run(tmp_path / "r", "pal", 3, rows), "eval_return")
    text = report.timing_table([c], target=950)
    after = sum(r[2] for r in rows[1:])  # 20 s for the 600 samples after the first row
    shares = [sum(r[k] for r in rows[1:]) / after for k in (3, 4, 5, 6)]
    cells = ["t", "pal", "3", "500", "7.0", f"{1000 * after / 600:.1f}", *(f"{x:.0%}" for x in shares),
             f"{7.0 + 4.0 + 6.0:.1f}"]  # cumulative seconds at the first evaluation >= 950
    assert "| " + " | ".join(cells) + " |" in text
    assert "| not reached |" in report.timing_table([c], target=5000)
    only_initial = report.timing_table([c.until(500)])  # --until keeps the rows it covers
    assert "| t | pal | 3 | 500 | 7.0 | - | - | - | - | - |" in only_initial


def test_unlabelled_records_print_as_before():
    """The pen variants, as `report` printed them before labels existed (committed records)."""
    pen = Path(__file__).resolve().parents[1] / "runs/fig2-robel/records/issue29"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert report_cli.main([f"{pen}/pen-pal-s0", f"{pen}/pen-pal-s1", f"{pen}/pen-pal-s2",
                                f"{pen}/pen-pal-holdout-s0", f"{pen}/pen-pal-holdout-s1",
                                f"{pen}/pen-pal-holdout-s2", "--metric", "eval_success",
                                "--target", "0.8"]) == 0
    assert ("| pen | pal [model.holdout_fraction=0.2] | 3 | 100819, 100999, 100688 | 0 ± 0 | 0.4 | "
            "not reached, not reached, not reached | 4.8 | 4.5 |") in out.getvalue()
