"""Kill-and-resume demonstration: one real run SIGKILLed at random moments and resumed with
`--resume` each time, against the same run left alone.

    .venv/bin/python runs/platform/kill_resume_demo.py --kills 5

Prints the number of kills, the samples lost (collected in metrics but missing from data/*.npz)
and whether the final metrics (every column but timing) equal the uninterrupted run's.
"""
from __future__ import annotations

import argparse
import csv
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from stackelberg.core.run_folder import load_checkpoint

# inverted-pendulum, PAL, 3000 samples in short iterations, a small model fit and fewer model
# rollouts so it is quick; everything else (networks, NPG, evaluation) at its default
RUN = ["--task", "inverted-pendulum", "--algo", "pal", "--seed", "0", "--samples", "3000",
       "--initial-samples", "500", "--samples-per-iteration", "250", "--model-epochs", "5",
       "--set", "npg.num_trajectories=40", "--threads", "1", "--no-progress"]


def rows(folder: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if "seconds" not in k}
            for r in csv.DictReader(open(folder / "metrics.csv"))]


def stackelberg_run(argv: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "stackelberg.run", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--out", default="runs/out/kill-resume-demo")
    p.add_argument("--seed", type=int, default=0, help="of the kill moments")
    args = p.parse_args()
    rng = random.Random(args.seed)
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    reference, killed = out / "uninterrupted", out / "killed"

    t0 = time.time()
    proc = stackelberg_run(RUN + ["--out", str(reference)])
    _, err = proc.communicate()
    assert proc.returncode == 0, err
    seconds = time.time() - t0
    print(f"uninterrupted: {seconds:.0f} s, {len(rows(reference))} iterations")

    kills, argv = 0, RUN + ["--out", str(killed)]
    while True:
        proc = stackelberg_run(argv)
        argv = ["--resume", "--out", str(killed), "--no-progress"]
        if kills == args.kills:
            _, err = proc.communicate()
            assert proc.returncode == 0, err
            break
        # wait for a new data file (progress), then a random moment inside an iteration
        data = killed / "data"
        wanted = 1 + (len(list(data.glob("iter_????.npz"))) if data.exists() else 0)
        while proc.poll() is None and (not data.exists() or
                                       len(list(data.glob("iter_????.npz"))) < wanted):
            time.sleep(0.01)
        time.sleep(rng.uniform(0, seconds / len(rows(reference))))
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        ckpt = killed / "checkpoint.pt"
        done = f"{load_checkpoint(ckpt)['iteration']} iterations" if ckpt.exists() else "none yet"
        partial = [f.name for f in killed.rglob("*.tmp*")]
        print(f"kill {kills}: {len(list(data.glob('iter_????.npz')))} data files, checkpoint: "
              f"{done}{', partial files ' + ', '.join(partial) if partial else ''}")

    final = int(rows(killed)[-1]["samples"])
    saved = sum(len(np.load(f)["obs"]) for f in (killed / "data").glob("*.npz"))
    same = rows(killed) == rows(reference)
    print(f"kills: {kills}; final samples {final}; on disk {saved}; samples lost {final - saved}; "
          f"final metrics equal to the uninterrupted run (all but timing columns): {same}")
    return 0 if same and final == saved else 1


if __name__ == "__main__":
    sys.exit(main())
