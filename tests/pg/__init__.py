"""PostgreSQL-only tests and their helpers (a package, so its conftest stays its own)."""
