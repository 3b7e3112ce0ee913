"""The `alexandria` command line."""
