"""The inventory's I/O: its PostgreSQL schema and store, and the publishing of its outbox."""
