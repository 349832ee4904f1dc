"""`python -m flows.cli`: the same command line as the `newswatch` script."""

from flows.cli.main import main

main()
