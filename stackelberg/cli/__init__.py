"""Command line: run, sweep, recipes, report, diagnose, bench, render. The only place that parses
arguments; nothing outside `cli` imports it."""
