"""Operator tooling above the services: the CLI, the local stack, replay, dead letters."""
