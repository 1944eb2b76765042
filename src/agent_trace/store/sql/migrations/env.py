"""Alembic environment: run migrations on the connection agent-trace hands over (no ini file)."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - agent-trace always passes a connection
    raise RuntimeError("agent-trace runs Alembic with an open connection (see store/sql/migrate.py)")

context.configure(
    connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite"
)
with context.begin_transaction():
    context.run_migrations()
