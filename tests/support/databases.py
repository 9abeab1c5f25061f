"""PostgreSQL databases of the suite's own: one per test worker (pytest-xdist), one for the
benchmark, beside the database ``VENSKAB_TEST_DATABASE_URL`` names."""

from __future__ import annotations

import os

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def own_database(url: str, name: str) -> str:
    """The URL of database ``name`` on ``url``'s server, created if it is not there yet."""
    target = make_url(url).set(database=name)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return target.render_as_string(hide_password=False)


def worker_suffix() -> str:
    """``_gw0``, ``_gw1``… under pytest-xdist; empty in a single process."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def for_this_worker(url: str) -> str:
    """``url`` itself in a single process; a database of this worker's own under xdist."""
    suffix = worker_suffix()
    if not suffix:
        return url
    return own_database(url, f"{make_url(url).database}{suffix}")
