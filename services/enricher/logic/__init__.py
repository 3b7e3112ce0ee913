"""The enricher's rules, pure (no I/O): which work an edition joins, and the facts it carries."""
