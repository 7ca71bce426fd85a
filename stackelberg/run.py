"""`python -m stackelberg.run`: the command users type; the code is `stackelberg.cli.run`."""
import sys

if __name__ == "__main__":
    from stackelberg.cli.main import run_command

    sys.exit(run_command("run"))
