"""The `fengqiao` command: run the whole platform on one machine, or one service in a container."""
