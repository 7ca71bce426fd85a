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
