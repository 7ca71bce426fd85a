"""MkDocs hook: the command-line reference, from each command's own argument parser.

Every command of `stackelberg COMMAND` (also `python -m stackelberg.COMMAND`) is asked for its
`--help` when the site is built, so the page is the parsers' text and cannot drift from them.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mkdocs.structure.files import Files

PAGE = "reference/cli.md"

INTRO = """# Command line

Each command runs as `python -m stackelberg.COMMAND` or `stackelberg COMMAND`. This page is each
command's `--help`, generated from its argument parser when the site is built.
"""


def command_help(module_name: str) -> str:
    """What `python -m stackelberg.COMMAND --help` prints."""
    module = importlib.import_module(module_name)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            module.main(["--help"])
        except SystemExit as stop:
            if stop.code not in (0, None):
                raise RuntimeError(f"{module_name} --help exited with {stop.code}") from None
    return out.getvalue().rstrip()


def cli_page() -> str:
    from stackelberg.cli.main import COMMANDS, main

    summary = io.StringIO()
    with contextlib.redirect_stdout(summary):
        main(["--help"])
    parts = [INTRO, "```text\n" + summary.getvalue().rstrip() + "\n```\n"]
    for name, (module_name, text) in COMMANDS.items():
        parts.append(f"## {name}\n\n{text[:1].upper() + text[1:]}.\n\n"
                     f"```text\n{command_help(module_name)}\n```\n")
    return "\n".join(parts)


def on_files(files: Files, config) -> Files:
    from mkdocs.structure.files import File

    # argparse wraps help to the terminal's width: fix it so the page is the same everywhere
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        files.append(File.generated(config, PAGE, content=cli_page()))
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous
    return files
