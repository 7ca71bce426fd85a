#!/usr/bin/env bash
# Paper Figure 4: PAL and MAL on the non-stationary 7-DOF reacher. The world changes mid-run:
# the forearm grows (x1.3, the task's default dynamics change) after 10^4 samples, or the goal
# box moves to the other side of the shoulder after 8x10^3 samples. Figure 4's metric is the
# mean fingertip-goal distance over an episode, lower is better: metrics.csv column eval_score.
#
#   runs/figure4.sh 0 1 2          # seeds; every (perturbation, algorithm) pair per seed
#   SAMPLES=30000 runs/figure4.sh 0
#   PERTURBS=goals@8000 runs/figure4.sh 0     # one experiment only (e.g. one per core)
#
# Outputs: runs/out/figure4/<perturb>-<algo>-s<seed>. Finished runs are skipped, partial ones
# resumed (`--resume`), so the script can be stopped and started again. One thread per run; to
# use both cores, start two copies with different seeds. The paper gives no budget for this
# figure (figure-only): 2x10^4 samples leaves 10^4 after the later change.
set -eu
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
SAMPLES=${SAMPLES:-20000}
OUT=${OUT:-runs/out/figure4}
read -r -a PERTURBS <<< "${PERTURBS:-dynamics@10000 goals@8000}"   # e.g. PERTURBS=goals@8000
ALGOS=(pal mal)
if [ "$#" -eq 0 ]; then
  echo "usage: $0 SEED [SEED...]   (env: SAMPLES=$SAMPLES OUT=$OUT PY=$PY)" >&2
  exit 2
fi

# samples in a run folder's newest readable checkpoint (0 if none)
checkpoint_samples() {
  $PY - "$1" <<'EOF'
import sys
from stackelberg.recorder import load_latest_checkpoint
state, _ = load_latest_checkpoint(sys.argv[1])
print(0 if state is None else int(state["samples"]))
EOF
}

for seed in "$@"; do
  for perturb in "${PERTURBS[@]}"; do
    for algo in "${ALGOS[@]}"; do
      out="$OUT/$perturb-$algo-s$seed"
      if [ -f "$out/config.toml" ]; then
        done_samples=$(checkpoint_samples "$out")
        if [ "$done_samples" -ge "$SAMPLES" ]; then
          echo "skip $out (finished, $done_samples samples)" >&2
          continue
        fi
        echo "resume $out at $done_samples samples" >&2
        $PY -m stackelberg.run --resume --out "$out" --samples "$SAMPLES" --threads 1 --no-progress
      else
        $PY -m stackelberg.run --task reacher-7dof --algo "$algo" --seed "$seed" \
            --samples "$SAMPLES" --perturb "$perturb" --threads 1 --no-progress --out "$out"
      fi
    done
  done
done

# Curves over seeds (mean and 95% interval), one figure per perturbation
mkdir -p runs/figures
for perturb in "${PERTURBS[@]}"; do
  runs=("$OUT/$perturb"-*-s*)
  [ -f "${runs[0]}/metrics.csv" ] || continue
  $PY -m stackelberg.report "${runs[@]}" --metric eval_score --lower-is-better \
      --title "reacher-7dof, $perturb: fingertip-goal distance (m), lower is better" \
      --plot "runs/figures/figure4-${perturb%@*}.png" || echo "no report for $perturb yet" >&2
done
