"""`python -m console` serves the console."""

import sys

from fengqiao.cli import main

sys.exit(main(["serve", "console"]))
