"""Rerun every results block of runs/RESULTS.md and compare its output with the text.

A results block is

    <!-- results: NAME -->
    ```bash
    python -m stackelberg.report runs/.../records/... --target 950 --plot runs/.../figure.png
    ```

    (the command's output, verbatim: the tables a reader sees)

    <!-- /results -->

Output that is plain text rather than Markdown tables (a bench record) sits in a ```text fence
between the command and the end marker; the fence is not part of the output compared.

Each command runs from the repository root (`--root`) under bash, with this interpreter's
folder first on PATH (so `python` is the project's venv) and LC_ALL=C (globs sort the same
everywhere). The check is read-only: a `--plot`/`--out` path is redirected into a temporary
folder, so every figure is rebuilt but no committed file is touched. Exit 1 with a diff per block
whose output differs; exit 2 when RESULTS.md itself is malformed.

`--update` runs the commands as written (figures rebuilt in place) and writes their output into
the blocks: for after a legitimate change to the records or to `report`, then read the diff.
"""
from __future__ import annotations

import argparse
import difflib
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

ROOT = Path(__file__).resolve().parents[2]
START = re.compile(r"^<!-- results: ([A-Za-z0-9_.-]+) -->$")
END = "<!-- /results -->"
TEXT_FENCE = "```text"
FIGURE_FLAG = re.compile(r"(--plot|--out)(\s+|=)(\S+)")


class MalformedResults(Exception):
    """RESULTS.md breaks the block format: the line and what is wrong."""


@dataclass
class Block:
    name: str
    command: str
    expected: str
    first: int  # line index of the first output line (after the command's fence)
    last: int   # line index of the END marker
    fenced: bool = False  # the output is shown in a ```text fence


def parse(text: str, path: Path) -> list[Block]:
    lines = text.split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        match = START.match(lines[i].strip())
        if not match:
            if lines[i].strip().startswith("<!-- results"):
                raise MalformedResults(f"{path}:{i + 1}: expected '<!-- results: NAME -->' "
                                       "(NAME of letters, digits, '.', '_', '-')")
            i += 1
            continue
        name, where = match.group(1), f"{path}:{i + 1} (block {match.group(1)})"
        if any(b.name == name for b in blocks):
            raise MalformedResults(f"{where}: a second block named {name}; names must be unique")
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        if j >= len(lines) or lines[j].strip() != "```bash":
            raise MalformedResults(f"{where}: the marker must be followed by a ```bash block "
                                   "holding the command")
        k = j + 1
        while k < len(lines) and lines[k].strip() != "```":
            k += 1
        if k >= len(lines):
            raise MalformedResults(f"{where}: the command's ```bash block is never closed")
        command = "\n".join(lines[j + 1:k]).strip()
        if not command:
            raise MalformedResults(f"{where}: the command block is empty")
        end = k + 1
        while end < len(lines) and lines[end].strip() != END:
            if START.match(lines[end].strip()):
                break
            end += 1
        if end >= len(lines) or lines[end].strip() != END:
            raise MalformedResults(f"{where}: no '{END}' after its output")
        expected = "\n".join(lines[k + 1:end]).strip("\n")
        fenced = expected.startswith(TEXT_FENCE + "\n") and expected.endswith("\n```")
        if fenced:
            expected = expected[len(TEXT_FENCE) + 1:-4]
        blocks.append(Block(name, command, expected, k + 1, end, fenced))
        i = end + 1
    return blocks


def read_only(command: str, folder: Path, name: str) -> str:
    """The command with each figure path moved into `folder` (named after the block, so two
    figures of one block stay apart)."""
    count = 0

    def move(match: re.Match) -> str:
        nonlocal count
        count += 1
        target = folder / f"{name}-{count}-{Path(match.group(3)).name}"
        return f"{match.group(1)}{match.group(2)}{target}"

    return FIGURE_FLAG.sub(move, command)


def run(command: str, root: Path) -> tuple[int, str, str]:
    env = {**os.environ, "LC_ALL": "C", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + command], cwd=root, env=env,
                          capture_output=True, text=True)
    return done.returncode, done.stdout.strip("\n"), done.stderr


def check(results: Path, root: Path, update: bool, only: Optional[Sequence[str]] = None) -> int:
    text = results.read_text(encoding="utf-8")
    try:
        blocks = parse(text, results)
    except MalformedResults as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not blocks:
        print(f"error: {results} has no '<!-- results: NAME -->' blocks", file=sys.stderr)
        return 2
    unknown = sorted(set(only or ()) - {b.name for b in blocks})
    if unknown:
        print(f"error: no block named {', '.join(unknown)} in {results}", file=sys.stderr)
        return 2
    chosen = [b for b in blocks if not only or b.name in only]
    failed: list[str] = []
    outputs: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="check-results-") as tmp:
        for block in chosen:
            started = time.perf_counter()
            command = block.command if update else read_only(block.command, Path(tmp), block.name)
            code, out, err = run(command, root)
            seconds = time.perf_counter() - started
            if code != 0:
                failed.append(block.name)
                print(f"FAIL {block.name}: the command exited with {code} ({seconds:.1f} s)\n{err}",
                      file=sys.stderr)
                continue
            outputs[block.name] = out
            if out == block.expected:
                print(f"ok   {block.name} ({seconds:.1f} s)", file=sys.stderr)
            elif update:
                print(f"new  {block.name} ({seconds:.1f} s)", file=sys.stderr)
            else:
                failed.append(block.name)
                diff = difflib.unified_diff(block.expected.split("\n"), out.split("\n"),
                                            f"{results.name} block {block.name}",
                                            f"{block.name}'s command now", lineterm="", n=1)
                print(f"FAIL {block.name}: its output differs from the text ({seconds:.1f} s)\n"
                      + "\n".join(diff), file=sys.stderr)
    if update:
        lines = text.split("\n")
        for block in sorted((b for b in chosen if b.name in outputs), key=lambda b: -b.first):
            shown = [TEXT_FENCE, outputs[block.name], "```"] if block.fenced else [outputs[block.name]]
            lines[block.first:block.last] = ["", *shown, ""]
        results.write_text("\n".join(lines), encoding="utf-8")
    print(f"{len(chosen) - len(failed)} of {len(chosen)} results blocks "
          f"{'written' if update else 'match'}" + (f"; failed: {', '.join(failed)}" if failed else ""),
          file=sys.stderr)
    return 1 if failed else 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=ROOT / "runs" / "RESULTS.md")
    p.add_argument("--root", type=Path, default=ROOT, help="where the commands run (the repository root)")
    p.add_argument("--update", action="store_true",
                   help="write each command's output into its block and rebuild the figures in place")
    p.add_argument("--only", nargs="+", metavar="NAME", help="check these blocks only")
    args = p.parse_args(argv)
    if not args.results.is_file():
        print(f"error: {args.results} does not exist", file=sys.stderr)
        return 2
    return check(args.results, args.root, args.update, args.only)


if __name__ == "__main__":
    sys.exit(main())
