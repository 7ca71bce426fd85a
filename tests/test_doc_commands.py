"""Every `python -m stackelberg.run` command a reader can copy from the README, the docs or
RESULTS parses into a valid config: a renamed flag or a knob written the wrong way (`--set` takes
one KEY=VALUE each time) fails here, not in a reader's shell."""
import re
import shlex
from pathlib import Path

import pytest

from markdown_blocks import _comment_start, code_blocks
from stackelberg.cli.run import build_parser, config_from_args

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "runs" / "RESULTS.md", *sorted((REPO / "docs").rglob("*.md"))]
COMMAND = re.compile(r"(?:\.venv/bin/)?python -m stackelberg\.run(?=\s|$)")
# a command that needs a folder or module the reader has (or a placeholder for one) is left out
NEEDS_THE_READERS_FILES = ("--resume", "--import", "--config")


def commands(text: str) -> list[str]:
    """The stackelberg.run commands of a page's bash blocks, continuation lines joined and
    comments cut, plus the ones written inline as `python -m stackelberg.run ...`."""
    found = []
    for block in code_blocks(text):
        if block.lang == "bash":
            joined = re.sub(r"\\\n\s*", " ", block.code)
            found += [line[:_comment_start(line)] for line in joined.splitlines()]
    found += re.findall(r"`((?:\.venv/bin/)?python -m stackelberg\.run [^`]*)`", text)
    return [c.strip() for c in found if COMMAND.match(c.strip())]


CASES = [(page.relative_to(REPO).as_posix(), command) for page in PAGES
         for command in commands(page.read_text()) if not any(f in command for f in NEEDS_THE_READERS_FILES)]


def test_the_pages_have_commands_to_check():
    assert len(CASES) >= 10
    assert {page for page, _ in CASES} >= {"README.md", "docs/guide/backends.md"}


@pytest.mark.parametrize("page,command", CASES, ids=[f"{p}:{c[27:60]}" for p, c in CASES])
def test_a_documented_run_command_parses_into_a_valid_config(page, command):
    argv = shlex.split(COMMAND.sub("", command, count=1))
    config_from_args(build_parser().parse_args(argv))


def test_the_check_catches_a_set_with_two_items():
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--set", "npg.delta=0.02", "model.lr=0.001"])
