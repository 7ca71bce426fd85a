"""SIGTERM handled like Ctrl-C.

Schedulers, `timeout` and `kill` stop a process with SIGTERM, whose default action ends Python
on the spot: a run would skip its "interrupted" path and a sweep would leave its runs going on
as orphans. Inside `sigterm_as_interrupt()` SIGTERM raises `Terminated`, a KeyboardInterrupt, so
both stop the way Ctrl-C stops them; a sweep passes it on to its runs (Ctrl-C reaches them
through the terminal already).
"""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


class Terminated(KeyboardInterrupt):
    """The process received SIGTERM."""


def _interrupt(signum: int, frame: object) -> None:
    raise Terminated(f"signal {signum}")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises `Terminated` (main thread only: elsewhere Python
    cannot install handlers, and the block changes nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
