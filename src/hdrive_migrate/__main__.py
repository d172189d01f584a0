"""`python -m hdrive_migrate`: the command line, for when the console script is not on PATH."""

from hdrive_migrate.cli import main

main()
