"""Errors with messages that name the fix, and how every entry point reports them.

`UserInputError` is the one error type for bad user input (flags, config files, run folders,
output paths): each CLI entry point (`run`, `sweep`, `report`, `diagnose`) turns it into one
line on stderr and exit code 2 (`exit_with`), and its argument parser does the same for
argparse's own errors (`stackelberg.cli.args.ArgumentParser`).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path


class UserInputError(ValueError):
    """Bad input from the user: unknown name, malformed config, impossible value."""


class NonFiniteError(RuntimeError):
    """NaN or inf appeared in training; the run stops, keeping its last good checkpoint."""


def one_line(text: str) -> str:
    """A message on one line: a second line on stderr reads as a second problem."""
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip())


def error_line(err: BaseException, limit: int = 200) -> str:
    """`TypeName: first line of the message` (at most `limit` characters of it), or the type
    name alone: how an error raised by someone else's code (a user's module, a backend, an
    env) is quoted inside one of ours, which must stay one line."""
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0][:limit]}" if lines else type(err).__name__


def exit_with(err: UserInputError) -> int:
    """Print `error: <message>` as one line on stderr; the exit code for bad input (2)."""
    print(f"error: {one_line(str(err))}", file=sys.stderr)
    return 2


def from_os_error(err: OSError) -> UserInputError:
    """An OS refusal met while reading the user's paths (a name too long, no permission), as
    the one-line error it is."""
    name = str(err.filename)[:80] if err.filename is not None else "a path"
    return UserInputError(f"cannot use {name!r}: {err.strerror or err}")


def _first_existing(path: Path) -> Path:
    for parent in (path, *path.parents):
        if parent.exists() or parent.is_symlink():
            return parent
    return Path(".")


def check_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """`path` can be (or already is) a folder this process may write into; nothing is created.
    Catches a file in the way (`--out` naming a file or a folder under a file), a folder that is
    not writable, a read-only file system and a name the OS refuses before any work is done."""
    if not str(path).strip():  # Path("") is the current folder: an empty name was a mistake
        raise UserInputError(f"{what} is empty; give a folder path")
    path = Path(path)
    try:
        return _check_output_dir(path, what)
    except OSError as err:  # a name too long, a loop of links
        raise UserInputError(f"{what} {str(path)[:80]!r} cannot be used: "
                             f"{err.strerror or err}") from None


def _check_output_dir(path: Path, what: str) -> Path:
    if "\0" in str(path):
        raise UserInputError(f"{what} {str(path)!r} contains a NUL character")
    if path.exists() and not path.is_dir():
        raise UserInputError(f"{what} {path} is a file, not a folder; choose another path")
    existing = _first_existing(path)
    if not existing.is_dir():
        raise UserInputError(f"{what} {path} cannot be created: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        problem = "exists but is not writable" if existing == path else \
            f"cannot be created: {existing} is not writable"
        raise UserInputError(f"{what} {path} {problem}; choose another path")
    return path


def check_output_file(path: str | Path, what: str = "output file") -> Path:
    """`path` can be written as a file (its folder may still have to be created)."""
    path = Path(path)
    try:
        if path.is_dir():
            raise UserInputError(f"{what} {path} is a folder; give a file name")
        if path.exists() and not os.access(path, os.W_OK):
            raise UserInputError(f"{what} {path} exists and is not writable; choose another path")
    except OSError as err:
        raise UserInputError(f"{what} {str(path)[:80]!r} cannot be used: "
                             f"{err.strerror or err}") from None
    check_output_dir(path.parent if str(path.parent) else Path("."), f"the folder of {what} {path}")
    return path


def check_figure_path(path: str | Path, what: str = "figure") -> Path:
    """A path matplotlib can write a figure to (a format it knows by the suffix; none = PNG),
    in a folder that can be made."""
    from matplotlib.backend_bases import FigureCanvasBase

    path = Path(path)
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix and path.suffix[1:].lower() not in formats:
        raise UserInputError(f"{what} {path}: unknown figure format {path.suffix!r}; use one of "
                             f".{', .'.join(sorted(formats))}")
    return check_output_file(path, what)


def make_output_dir(path: str | Path, what: str = "output folder") -> Path:
    """`check_output_dir`, then create it; an OS refusal (a read-only file system) becomes a
    `UserInputError` too."""
    path = check_output_dir(path, what)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserInputError(f"cannot create {what} {path}: {err.strerror or err}") from None
    return path
