"""`python -m stackelberg.report` (`stackelberg report`): the command line of
`stackelberg.analysis.report`, whose docstring is its help."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from stackelberg.analysis import report as analysis
from stackelberg.analysis.report import (apply_labels, bins_table, differing_keys, group,
                                         label_variants, load_published, load_run, parse_label,
                                         plot, refuse_repeated_folders, split_repeated_seeds, table,
                                         timing_table)
from stackelberg.cli.args import ArgumentParser, finite_float, path_text, sample_count
from stackelberg.core.errors import (UserInputError, check_figure_path, exit_with, from_os_error,
                                     make_output_dir)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = ArgumentParser(prog="python -m stackelberg.report", description=analysis.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+", help="run folders (each with metrics.csv, config.toml)")
    p.add_argument("--metric", default="eval_return")
    p.add_argument("--target", type=finite_float,
                   help="report the samples each seed needs to reach it")
    p.add_argument("--plot", type=path_text, help="PNG path for the curves")
    p.add_argument("--x", choices=["samples", "seconds"], default="samples")
    p.add_argument("--title", default="")
    p.add_argument("--lower-is-better", action="store_true",
                   help="the metric is a cost (e.g. eval_score = goal distance): targets, best "
                        "values and recovery after a world change count downwards")
    p.add_argument("--until", type=finite_float, metavar="SAMPLES",
                   help="use only the evaluations at or before SAMPLES (e.g. the nominal part of "
                        "a run whose world changes later)")
    p.add_argument("--bins", type=sample_count, metavar="SAMPLES",
                   help="also print each run's mean of the metric per SAMPLES-sample bin")
    p.add_argument("--smooth", type=finite_float, metavar="SAMPLES",
                   help="plot each seed's mean over the trailing SAMPLES samples of evaluations "
                        "(the table keeps the raw evaluations)")
    p.add_argument("--pool", action="store_true",
                   help="one group per task and algorithm even where the runs' configs differ "
                        "(the keys that differ are printed), instead of one group per variant")
    p.add_argument("--published", action="append", default=[], metavar="CSV",
                   help="a learning curve another paper published, drawn dashed and listed as "
                        "published (CSV: '# task:' and '# label:' lines, columns samples,mean[,std]; "
                        "e.g. runs/gym/published/mbpo_hopper.csv); repeatable")
    p.add_argument("--label", action="append", default=[], metavar="NAME=GLOB",
                   help="the runs whose folder path matches GLOB (quoted, so the shell leaves it "
                        "alone) are one group named NAME in the table and figure, e.g. "
                        "--label 'PAL, all data=*/pen-pal-alldata-s?'; repeatable")
    p.add_argument("--timing", action="store_true",
                   help="also print each run's seconds per 1000 samples after the initial "
                        "iteration, the share of each phase, and with --target its seconds to it")
    args = p.parse_args(argv)
    for flag in ("bins", "smooth"):
        value = getattr(args, flag)
        if value is not None and not value > 0:
            print(f"error: --{flag} must be a positive number of samples, got {value:g}", file=sys.stderr)
            return 2
    try:
        if args.plot:
            check_figure_path(Path(args.plot), "--plot")
        curves = [load_run(Path(f), args.metric) for f in args.folders]
        refuse_repeated_folders(curves)
        published = [load_published(Path(f)) for f in args.published]
        if args.until is not None:
            curves = [c.until(args.until) for c in curves]
        curves = apply_labels(curves, [parse_label(text) for text in args.label])
    except UserInputError as err:
        return exit_with(err)
    except OSError as err:  # a path the OS refuses to look at (a name too long)
        return exit_with(from_os_error(err))
    if args.pool:
        for (task, algo), members in group(curves).items():
            keys = differing_keys(members)
            if keys:
                print(f"note: {task} {algo} pools runs that differ in {', '.join(keys)}")
    curves, notes = split_repeated_seeds(curves if args.pool else label_variants(curves))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    groups = group(curves)
    if not args.pool:
        labelled = [f"note: {task} {name} pools runs that differ in {', '.join(keys)}"
                    for (task, name), members in groups.items()
                    if members[0].label and (keys := differing_keys(members))]
        if labelled:  # a blank line after them, so the table below is a Markdown block of its own
            print("\n".join(labelled) + "\n")
    if args.plot:
        shown = groups if args.smooth is None else \
            {key: [c.smoothed(args.smooth) for c in cs] for key, cs in groups.items()}
        title = args.title or (f"{args.metric.replace('_', ' ')}: mean of the trailing "
                               f"{args.smooth:,.0f} samples' evaluations" if args.smooth else "")
        try:
            make_output_dir(Path(args.plot).parent, "the folder of --plot")
            plot(shown, args.metric, Path(args.plot), title, args.target, args.x, published)
        except UserInputError as err:
            return exit_with(err)
        except OSError as err:
            return exit_with(UserInputError(f"cannot write {args.plot}: {err.strerror or err}"))
    print(table(groups, args.metric, args.target, args.lower_is_better, published))
    if args.bins is not None:
        print("\n" + bins_table(groups, args.metric, args.bins))
    if args.timing:
        try:
            text = timing_table([c for cs in groups.values() for c in cs], args.target,
                                args.lower_is_better)
        except UserInputError as err:
            return exit_with(err)
        print("\n" + text)
    return 0
