#!/usr/bin/env bash
# Evidence for the foundation issue: PAL, MAL, GDA, BR on inverted-pendulum, 10k samples, 3 seeds.
# One thread per run so that two runs share the 2 cores. Outputs under runs/out/foundation/.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
for algo in "$@"; do
  for seed in 0 1 2; do
    out=runs/out/foundation/inverted-pendulum-$algo-s$seed
    [ -f "$out/metrics.csv" ] && continue
    $PY -m stackelberg.run --task inverted-pendulum --algo "$algo" --samples 10000 --seed "$seed" \
        --threads 1 --no-progress --out "$out"
  done
done
