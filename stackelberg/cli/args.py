"""What the command line's argument parsers share: one-line errors, finite numbers."""
from __future__ import annotations

import argparse
import math
from typing import NoReturn

from stackelberg.core.errors import one_line


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line and exit code 2: argparse's usage block (18 lines for
    `run`) buries the one line that says what is wrong. `--help` still prints the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {one_line(message)} (see {self.prog} --help)\n")


def finite_float(text: str) -> float:
    """argparse type: a finite number (`float` alone accepts nan and inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
    return value


def path_text(text: str) -> str:
    """argparse type: a path, which may not be empty (an empty `--out ""` would otherwise read
    as "not given" and write to a default place)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a path (or leave the option out)")
    return text


def sample_count(text: str) -> float:
    """argparse type: a whole number of samples >= 1 (`1e4` is fine, `0.001` is no bin width)."""
    value = finite_float(text)
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"must be a whole number of samples >= 1, got {text!r}")
    return value
