"""`python -m stackelberg.diagnose`: the command users type; the code is `stackelberg.cli.diagnose`."""
import sys

if __name__ == "__main__":
    from stackelberg.cli.main import run_command

    sys.exit(run_command("diagnose"))
