"""Alembic environment of the hub: runs on the connection that ``core.store.upgrade_database`` passes in.

There is no ``alembic.ini`` and no engine here: the caller owns the connection and its transaction, so an
upgrade is one transaction on PostgreSQL and on SQLite alike. Migrations never import the models; each one
is a frozen snapshot of the schema it creates.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core.store.upgrade_database(engine), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=None,
    # SQLite can alter little in place; batch mode rebuilds the table (copy, drop, rename) instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
