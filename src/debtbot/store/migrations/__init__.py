"""Alembic migrations for the store (run with `debtbot db upgrade`; see debtbot.store.migrate)."""
