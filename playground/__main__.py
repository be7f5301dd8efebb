"""`python -m playground COMMAND ...`: the command line (see playground/cli.py)."""

import sys

from .cli import main

sys.exit(main())
