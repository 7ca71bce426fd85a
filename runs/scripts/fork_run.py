"""Branch a run from its last checkpoint with changed settings (an intervention experiment).

`--resume` refuses settings that would make it another run (a resumed run must be the run it
was; it may change only step sizes and bookkeeping, the knobs declared resumable, `stackelberg.config.resumable_keys`). To ask "what
if this run had changed X at this point", copy it to a new folder, change X there, and resume the
copy; the source run is left untouched. `--log-std` also resets the policy's exploration noise in
the copied checkpoint: raising `policy.min_log_std` alone cannot do it, because the KL guard
(`npg.max_kl`) rejects the jump from a collapsed log-std to the new floor (RESULTS 7.14).

    .venv/bin/python runs/scripts/fork_run.py runs/out/robel-variants/dclaw-turn-pal-ball-e10-s0 \
        runs/out/robel-variants/dclaw-turn-pal-ball-e10-std1-s0 --set policy.min_log_std=-1.0 --log-std -1.0
    .venv/bin/python -m stackelberg.run --resume --out runs/out/robel-variants/dclaw-turn-pal-ball-e10-std1-s0
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import torch

from stackelberg.config import config_record, config_to_toml, load_saved_config, set_value
from stackelberg.core.errors import UserInputError
from stackelberg.runner.run_folder import atomic_torch_save, load_checkpoint

LOG_STD_KEY = "policy.log_std"


def fork(source: Path, target: Path, settings: list[str], log_std: float | None) -> None:
    if not (source / "checkpoint.pt").is_file():
        raise SystemExit(f"error: {source} has no checkpoint.pt to branch from")
    if target.exists():
        raise SystemExit(f"error: {target} exists; pick a new folder for the branch")
    config = load_saved_config(source / "config.toml")
    config.run.out = str(target)
    try:  # before copying anything: bad input leaves no half-made branch
        for item in settings:
            key, _, value = item.partition("=")
            set_value(config, key, value)
        config.validate()
    except UserInputError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("checkpoint_prev.pt"))
    (target / "config.toml").write_text(config_to_toml(config))
    checkpoint = load_checkpoint(target / "checkpoint.pt")  # tensors only: no code from the run
    if log_std is not None:
        state = checkpoint["policy"]["module"]
        state[LOG_STD_KEY] = torch.full_like(state[LOG_STD_KEY], log_std)
    # the branch's checkpoint records the branch's config, or its resume would refuse the change
    checkpoint["config"] = config_record(config)
    atomic_torch_save(checkpoint, target / "checkpoint.pt")
    print(f"branched {source} at {checkpoint['samples']} samples -> {target}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    p.add_argument("--log-std", type=float, default=None,
                   help="set every entry of the policy's log-std to this value")
    args = p.parse_args()
    fork(args.source, args.target, args.set, args.log_std)


if __name__ == "__main__":
    main()
