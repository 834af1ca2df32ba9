"""I/O of the orders service: PostgreSQL (tables, migrations, store, queries)."""
