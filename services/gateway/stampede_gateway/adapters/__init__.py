"""The gateway's I/O: PostgreSQL (accounts, idempotency), Kafka, the orders read API."""
