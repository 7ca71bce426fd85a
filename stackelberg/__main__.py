"""`python -m stackelberg COMMAND ...`, the same as the `stackelberg` console script."""
import sys

from stackelberg.cli.main import main

sys.exit(main())
