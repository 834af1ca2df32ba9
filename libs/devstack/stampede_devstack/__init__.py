"""The embedded stack: broker, database and services as local processes."""
