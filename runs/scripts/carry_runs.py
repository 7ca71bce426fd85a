"""Carry unfinished runs to the next machine through git: `--resume` needs a run's folder
(checkpoint.pt, data/, config.toml, metrics.csv), and runs/out/ is git-ignored and lost when a
session starts on a fresh machine.

`save` copies what a resume needs into runs/carry/ (the same layout below runs/out/). The
checkpoint's replay buffer is a copy of the newest transitions in data/, so it is left out of the
carried checkpoint, with its trajectory count and a SHA-256 of its contents; data/ files never
change once written, so git stores each one once however many sessions carry the run. `restore`
puts the folders back under runs/out/, rebuilds the replay from data/ and refuses if the rebuilt
buffer's hash differs, so a restored run resumes exactly as the original would have.

    .venv/bin/python runs/scripts/carry_runs.py save runs/out/i29/ant/ant-pal-s0 ...
    .venv/bin/python runs/scripts/carry_runs.py restore            # every carried run
    .venv/bin/python runs/scripts/carry_runs.py drop runs/carry/i29/ant/ant-pal-s0   # once finished

Snapshots, checkpoint_prev.pt and figures are not carried: a resume does not need them. A
carried file over 5 MB (e.g. PAL's checkpoint on DClaw or Ant: the ensemble and its Adam state),
which git here does not keep, is stored as numbered parts of at most 5 MB (`checkpoint.pt.part000`,
...) beside a manifest (`checkpoint.pt.parts`: each part's SHA-256 and the whole file's);
`restore` rejoins them and refuses a missing or altered part by name. Checkpoints are read with
`torch.load(weights_only=True)`: a carried file arrives through git and must not run code.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from stackelberg.core.errors import UserInputError, exit_with
from stackelberg.runner.run_folder import load_checkpoint, unreadable_reason

RUNS = Path(__file__).resolve().parents[1]  # runs/
OUT, CARRY = RUNS / "out", RUNS / "carry"
FILES = ("config.toml", "metrics.csv", "policy_best.pt")
STRIPPED = "carried_replay"  # checkpoint key: what was left out of the replay
MAX_BYTES = 5_000_000  # per carried file: 5 MB, so git hosts that count in decimal take it
PARTS = ".parts"  # suffix of a split file's manifest


def replay_digest(trajectories: list[dict]) -> str:
    """SHA-256 over every trajectory's arrays, in buffer order."""
    digest = hashlib.sha256()
    for t in trajectories:
        for key in ("obs", "act", "next_obs", "reward", "terminated"):
            array = np.ascontiguousarray(torch.as_tensor(t[key]).numpy())
            digest.update(f"{key}{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def data_files(folder: Path, iterations: int) -> list[Path]:
    """The data/ files of a checkpoint's iterations (later ones a resume writes again)."""
    return [folder / "data" / f"iter_{i:04d}.npz" for i in range(iterations)]


def trajectories_from_data(sources: list[Path] | list[bytes]) -> list[dict]:
    """Every trajectory in the given data files (paths or their bytes), in the order collected."""
    trajectories = []
    for source in sources:
        with np.load(io.BytesIO(source) if isinstance(source, bytes) else source) as f:
            starts = np.concatenate([[0], np.cumsum(f["lengths"])])
            for i, done in enumerate(f["terminated"]):
                part = slice(starts[i], starts[i + 1])
                trajectories.append({key: torch.from_numpy(np.array(f[key][part]))
                                     for key in ("obs", "act", "next_obs", "reward")}
                                    | {"terminated": torch.tensor(bool(done))})
    return trajectories


def write_carried(data: bytes, dest: Path) -> None:
    """`data` as the file `dest`, or, over `MAX_BYTES`, as `dest.part000`... of at most
    `MAX_BYTES` each and the manifest `dest.parts` (each part's SHA-256, the whole file's)."""
    for stale in [dest, dest.with_name(dest.name + PARTS), *dest.parent.glob(dest.name + ".part*")]:
        stale.unlink(missing_ok=True)
    if len(data) <= MAX_BYTES:
        dest.write_bytes(data)
        return
    parts = {}
    for i, start in enumerate(range(0, len(data), MAX_BYTES)):
        chunk = data[start:start + MAX_BYTES]
        name = f"{dest.name}.part{i:03d}"
        (dest.parent / name).write_bytes(chunk)
        parts[name] = hashlib.sha256(chunk).hexdigest()
    manifest = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "parts": parts}
    dest.with_name(dest.name + PARTS).write_text(json.dumps(manifest, indent=1) + "\n")


def read_carried(path: Path) -> bytes:
    """The bytes of a carried file, rejoined from its parts if it was split; a missing or
    altered part is refused by name."""
    manifest_path = path.with_name(path.name + PARTS)
    if not manifest_path.is_file():
        if not path.is_file():
            raise UserInputError(f"{path} is missing (and no {manifest_path.name}); not restored")
        return path.read_bytes()
    try:
        manifest = json.loads(manifest_path.read_text())
        parts, whole = dict(manifest["parts"]), str(manifest["sha256"])
    except (ValueError, KeyError, TypeError) as err:
        raise UserInputError(f"{manifest_path} is not a parts manifest ({err}); not restored") \
            from None
    chunks = []
    for name, digest in parts.items():
        part = path.parent / name
        if not part.is_file():
            raise UserInputError(f"{part} is missing: {path.name} cannot be rejoined; not restored")
        chunk = part.read_bytes()
        if hashlib.sha256(chunk).hexdigest() != digest:
            raise UserInputError(f"{part} differs from the one saved (SHA-256); not restored")
        chunks.append(chunk)
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != whole:
        raise UserInputError(f"{path.name} rejoined from {manifest_path.name} differs from the "
                             f"file saved (SHA-256); not restored")
    return data


def _load(data: bytes, where: Path) -> dict:
    """A checkpoint's state, read without running code."""
    try:
        state = load_checkpoint(io.BytesIO(data))
    except Exception as err:
        raise UserInputError(f"cannot read {where}: {unreadable_reason(err)}; not restored") \
            from None
    if not isinstance(state, dict) or "iteration" not in state:
        raise UserInputError(f"{where} is not a run checkpoint; not restored")
    return state


def _carried_files(dest: Path) -> list[Path]:
    """Every file of a carried folder as restored (a split file once, by its own name)."""
    names = {p.name[:-len(PARTS)] if p.name.endswith(PARTS) else p.name
             for p in dest.iterdir() if p.is_file() and ".part" not in p.name.replace(PARTS, "")}
    return [dest / name for name in sorted(names)]


def save(run: Path) -> Path:
    run = run.resolve()
    dest = CARRY / run.relative_to(OUT)
    state = _load((run / "checkpoint.pt").read_bytes(), run / "checkpoint.pt")
    trajectories = state["replay"]["trajectories"]
    state[STRIPPED] = {"count": len(trajectories), "sha256": replay_digest(trajectories)}
    state["replay"] = {**state["replay"], "trajectories": []}
    (dest / "data").mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_carried(buffer.getvalue(), dest / "checkpoint.pt")
    for path in data_files(run, int(state["iteration"])):
        if not (dest / "data" / path.name).exists() and \
                not (dest / "data" / (path.name + PARTS)).exists():
            write_carried(path.read_bytes(), dest / "data" / path.name)
    for name in FILES:
        if (run / name).exists():
            write_carried((run / name).read_bytes(), dest / name)
    print(f"{run} -> {dest}: {state['samples']} samples, replay of {len(trajectories)} "
          f"trajectories left to data/")
    return dest


def restore(carried: Path) -> Path:
    carried = carried.resolve()
    run = OUT / carried.relative_to(CARRY)
    state = _load(read_carried(carried / "checkpoint.pt"), carried / "checkpoint.pt")
    stripped = state.pop(STRIPPED)
    files = {path: read_carried(path) for folder in (carried, carried / "data")
             for path in _carried_files(folder)}
    needed = [carried / "data" / path.name for path in data_files(carried, int(state["iteration"]))]
    missing = [path for path in needed if path not in files]
    if missing:
        raise UserInputError(f"{missing[0]} is missing; not restored")
    everything = trajectories_from_data([files[path] for path in needed])
    replay = everything[len(everything) - stripped["count"]:] if stripped["count"] else []
    if replay_digest(replay) != stripped["sha256"]:
        raise UserInputError(f"{carried}: the replay rebuilt from data/ differs from the "
                             f"checkpoint's; not restored")
    state["replay"] = {**state["replay"], "trajectories": replay}
    if (run / "checkpoint.pt").exists():
        raise UserInputError(f"{run} already has a checkpoint; not overwritten")
    (run / "data").mkdir(parents=True, exist_ok=True)
    for path, data in files.items():
        if path.name != "checkpoint.pt":
            (run / path.relative_to(carried)).write_bytes(data)
    torch.save(state, run / "checkpoint.pt")
    print(f"{carried} -> {run}: {state['samples']} samples; resume with python -m "
          f"stackelberg.run --resume --out {shlex.quote(str(run))}")
    return run


def carried_runs() -> list[Path]:
    """Every carried run folder (its checkpoint whole or in parts)."""
    return sorted({p.parent for pattern in ("checkpoint.pt", "checkpoint.pt" + PARTS)
                   for p in CARRY.rglob(pattern)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["save", "restore", "drop"])
    parser.add_argument("folders", nargs="*", type=Path)
    args = parser.parse_args(argv)
    try:
        act(args)
    except UserInputError as err:
        return exit_with(err)
    return 0


def act(args: argparse.Namespace) -> None:
    if args.action == "save":
        for folder in args.folders:
            save(folder)
    elif args.action == "restore":
        carried = args.folders or carried_runs()
        for folder in carried:
            restore(folder)
    else:
        for folder in args.folders:
            print(f"dropped {drop(folder)}")


def drop(folder: Path) -> Path:
    """Delete a carried run once it has finished; only ever under runs/carry/.

    A run folder under runs/out/ names its carried copy, so the finished run itself is never
    deleted by a mistyped path."""
    folder = folder.resolve()
    if folder.is_relative_to(OUT):
        folder = CARRY / folder.relative_to(OUT)
    if not folder.is_relative_to(CARRY) or folder == CARRY:
        raise UserInputError(f"{folder} is not a carried run; give a folder under {CARRY} "
                             f"(or its run folder under {OUT})")
    if not folder.is_dir():
        raise UserInputError(f"{folder} is not carried (no such folder); nothing dropped")
    shutil.rmtree(folder)
    return folder


if __name__ == "__main__":
    sys.exit(main())
