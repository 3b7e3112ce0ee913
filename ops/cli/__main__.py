"""`python -m ops.cli` is `alexandria`."""

from ops.cli.main import main

main()
