import sys

from fengqiao.cli import main

sys.exit(main(["serve", "community"]))
