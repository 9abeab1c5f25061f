"""Alembic environment: runs against the engine handed over in ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine, create_engine

from store.models import Base

config = context.config
engine: Engine | None = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: the URL comes from alembic.ini / -x url=
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the database as: alembic -x url=sqlite:///venskab.db upgrade head")
    engine = create_engine(url)

# Replicas that start together migrate one after the other: the first takes the lock and
# migrates, the others wait for it and then find the schema up to date. The lock is held to
# the end of this transaction (PostgreSQL's DDL is transactional, so that is the migration's).
# SQLite is locked with a file by store.db.upgrade.
MIGRATION_LOCK = 0x76656E736B6162  # "venskab"

with engine.begin() as connection:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
