"""The `stackelberg` console script (`stackelberg run|sweep|report|diagnose|bench|render ...`)
and the one place every command is entered: SIGTERM is turned into Ctrl-C here, for all of
them, so a scheduler's `kill` stops a run or a sweep through its "interrupted" path."""
from __future__ import annotations

import importlib
import os
import sys
from typing import Optional, Sequence

from stackelberg.cli.stop_signal import sigterm_as_interrupt

COMMANDS = {
    "run": ("stackelberg.cli.run", "train one game (PAL, MAL, GDA, BR; NPG, MBPO or SAC)"),
    "sweep": ("stackelberg.cli.sweep", "tasks x algos x seeds from a recipe; rerun = resume"),
    "report": ("stackelberg.cli.report", "learning curves across seeds, mean +- 95% CI"),
    "diagnose": ("stackelberg.cli.diagnose", "open- vs closed-loop model error of a run"),
    "bench": ("stackelberg.cli.bench", "hot paths vs this machine's matmul ceiling"),
    "render": ("stackelberg.cli.render", "a video of a run's policy"),
}


def run_command(name: str, argv: Optional[Sequence[str]] = None) -> int:
    """Run one command's `main(argv)` with SIGTERM raising KeyboardInterrupt. Its import is
    inside too: a stop signal during start-up (torch, a task, matplotlib loading) ends it as an
    interrupt, exit code 130, not with a traceback."""
    try:
        with sigterm_as_interrupt():
            module = importlib.import_module(COMMANDS[name][0])
            return int(module.main(argv) or 0)
    except KeyboardInterrupt:  # a command's own interrupt path returns 130 itself
        print(f"\ninterrupted; {name} stopped during start-up", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader left (`report ... | head`): not an error of ours; stdout goes to devnull so
        # that the interpreter's final flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`stackelberg COMMAND [ARGS...]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        lines = [f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()]
        usage = "usage: stackelberg {" + ",".join(COMMANDS) + "} ...\n" + "\n".join(lines)
        if args and args[0] not in ("-h", "--help"):
            print(f"{usage}\nstackelberg: error: unknown command {args[0]!r}", file=sys.stderr)
            return 2
        print(usage, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    return run_command(args[0], args[1:])


if __name__ == "__main__":
    sys.exit(main())
