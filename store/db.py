"""Engines, sessions and schema migrations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine. SQLite gets WAL, foreign keys, a busy timeout and a larger cache.

    WAL lets the web server read while the dispatcher writes; the busy timeout makes a second
    writer wait instead of failing with "database is locked".
    """
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            if ":memory:" not in url and url != "sqlite://":
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                # 32 MB of page cache instead of 2: a planning pass inserts into indexes all
                # over their length, and re-reading their pages was a tenth of its time.
                cursor.execute("PRAGMA cache_size=-32768")
            cursor.close()

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with factory() as session, session.begin():
        yield session


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


_REVISION = re.compile(r'^revision = "([^"]+)"$', re.M)
_DOWN = re.compile(r'^down_revision = (?:None|"([^"]+)")$', re.M)


@cache
def file_heads() -> frozenset[str] | None:
    """The newest revisions the migration files name, read as text (Alembic itself takes a
    tenth of a second to import); None when a file is not in the plain form ours are in."""
    revisions: set[str] = set()
    replaced: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("[0-9]*.py"):
        source = path.read_text(encoding="utf-8")
        revision, down = _REVISION.findall(source), _DOWN.search(source)
        if len(revision) != 1 or down is None:
            return None
        revisions.add(revision[0])
        if down.group(1):
            replaced.add(down.group(1))
    return frozenset(revisions - replaced) or None


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision of the migration scripts."""
    heads = file_heads()
    if heads is None:
        from alembic.script import ScriptDirectory

        heads = frozenset(ScriptDirectory.from_config(alembic_config(engine)).get_heads())
    try:
        with engine.connect() as connection:
            current = {
                row[0]
                for row in connection.execute(text("SELECT version_num FROM alembic_version"))
            }
    except DBAPIError:
        return False  # no schema yet
    return current == set(heads)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to ``revision`` (Alembic), creating it on an empty database.

    Safe for any number of processes at once: on PostgreSQL the migration takes an advisory
    lock (see migrations/env.py), on SQLite a lock file next to the database file.
    """
    if revision == "head" and is_current(engine):
        return  # the usual case (every tick): no migration environment, no lock
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    from alembic import command

    if not database or database == ":memory:" or database.startswith("file:"):
        command.upgrade(alembic_config(engine), revision)
        return
    with FileLock(f"{database}.migrate.lock"):
        command.upgrade(alembic_config(engine), revision)
