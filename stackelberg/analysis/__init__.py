"""Reading runs: reports across seeds, model-error diagnostics, plots, benchmarks, videos."""
