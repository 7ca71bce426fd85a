"""Run the code blocks of a Markdown page as a reader would, with a budget a test can afford.

A page's blocks run in order, in one folder: a block with a title (```python title="mygame.py")
is a file the reader saves; other python blocks run in one namespace, as in a notebook; bash
blocks run in bash, each command of this project with `.venv/bin/python` replaced by this
interpreter. `shrink_shell` gives every `stackelberg.run` command a tiny schedule and every
`stackelberg.render` a short clip, so that a tutorial written with a real budget runs in seconds.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```[ \t]*$", re.S | re.M)
TITLE = re.compile(r'title="([^"]+)"')
RUNNABLE = ("python", "bash")

# flags appended to a new run: a schedule of 200-sample iterations and players that fit in a second
RUN_FLAGS = ("--initial-samples 200 --samples-per-iteration 200 --model-epochs 1 --model-min-steps 5 "
             "--policy-steps 1 --eval-episodes 1 --set npg.num_trajectories=8 --set npg.horizon_cap=20 "
             "--set model.hidden_sizes=32,32 --set run.plot_every=0 --threads 1 --no-progress")
RENDER_FLAGS = "--max-steps 20 --width 160 --height 120"
SAMPLES = re.compile(r"--samples (\d+)")


@dataclass
class Block:
    lang: str
    title: str | None
    code: str


def code_blocks(text: str) -> list[Block]:
    """The page's fenced code blocks (not indented ones), in order."""
    blocks = []
    for lang, info, code in FENCE.findall(text):
        title = TITLE.search(info)
        blocks.append(Block(lang, title.group(1) if title else None, code))
    return blocks


def _comment_start(line: str) -> int:
    """Where a shell comment starts in `line` (outside quotes), or len(line)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return i
    return len(line)


def shrink_shell(code: str, samples: dict[int, int]) -> str:
    """`code` with continuation lines joined, this interpreter for `.venv/bin/python`, each
    `--samples N` replaced by `samples[N]`, and the tiny flags added to runs and renders."""
    lines = code.replace("\\\n", " ").splitlines()
    out = []
    for line in lines:
        line = line.replace(".venv/bin/python", sys.executable)
        cut = _comment_start(line)
        command, comment = line[:cut].rstrip(), line[cut:]
        command = SAMPLES.sub(lambda m: f"--samples {samples[int(m.group(1))]}", command)
        if "-m stackelberg.run " in command + " " and "--resume" not in command:
            command += " " + RUN_FLAGS
        elif "-m stackelberg.render " in command + " ":
            command += " " + RENDER_FLAGS
        out.append(f"{command}  {comment}" if comment else command)
    return "\n".join(out) + "\n"


def tiny_budgets(text: str) -> dict[int, int]:
    """The `--samples` values of the page's shell commands mapped to 400, 600, ... in their
    order, so that a resume that extends a run still extends it."""
    commands = [line[:_comment_start(line)] for block in code_blocks(text) if block.lang == "bash"
                for line in block.code.replace("\\\n", " ").splitlines()]
    values = sorted({int(n) for command in commands for n in SAMPLES.findall(command)})
    return {n: 400 + 200 * rank for rank, n in enumerate(values)}


def link_studies(repo: Path, folder: Path) -> None:
    """`folder/runs/<study>` links to the repository's studies (their records and recipes), and
    `folder/runs/out` is a folder of its own, so a page's commands read the committed records
    and write nothing into the repository."""
    (folder / "runs" / "out").mkdir(parents=True)
    for study in (repo / "runs").iterdir():
        if study.is_dir() and study.name != "out":
            (folder / "runs" / study.name).symlink_to(study)


def run_page(text: str, folder: Path, namespace: dict, name: str) -> int:
    """Run every block of `text` in `folder` (the current directory is changed by the caller
    for python blocks); returns the number of blocks run. A failing block raises, naming it."""
    budgets = tiny_budgets(text)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(folder)}
    ran = 0
    for index, block in enumerate(code_blocks(text)):
        where = f"{name}, block {index + 1}"
        if block.title:
            (folder / block.title).write_text(block.code)
        elif block.lang == "python":
            exec(compile(block.code, where, "exec"), namespace)
        elif block.lang == "bash":
            script = shrink_shell(block.code, budgets)
            proc = subprocess.run(["bash", "-e", "-c", script], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 0, f"{where} failed:\n{script}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        else:
            continue
        ran += 1
    return ran
