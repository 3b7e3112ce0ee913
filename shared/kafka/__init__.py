"""Kafka plumbing shared by every service: options, topics, producer, dead letters, worker."""
