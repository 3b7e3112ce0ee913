"""`python -m shared.cli` is `alexandria`."""

from shared.cli.main import main

main()
