"""The resolver's rules, pure (no I/O): resolving a book, and upgrading synthetic works."""
