"""Kafka plumbing shared by every service: client options, topics, the event producer, dead letters."""
