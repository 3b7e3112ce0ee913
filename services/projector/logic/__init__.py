"""The projector's rules, pure (no I/O): one module per table on shared merge machinery."""
