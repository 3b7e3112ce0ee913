"""The local stack for development and tests: Kafka (KRaft), PostgreSQL, the sandbox."""
