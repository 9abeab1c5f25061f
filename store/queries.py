"""Queries that differ between SQLite and PostgreSQL, behind one interface."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Column, Connection, Engine, Table, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from store.models import Base


def insert_ignore(
    session: Session, model: type[Base], rows: Sequence[dict[str, Any]], key: str
) -> int:
    """Insert rows, skipping any whose ``key`` column already exists. Returns rows inserted.

    This is what makes planning idempotent, also when two replicas plan at once: the unique
    index decides, not a read-then-write race.

    Rows are keyed by attribute name, as for ``session.execute(insert(model), rows)``, and mean
    the same: None where the column has a default is left out (the default applies), names that
    are not columns are ignored, pending objects are flushed first.
    """
    if not rows:
        return 0
    if session.autoflush:
        session.flush()  # as an ORM statement would: pending objects may hold the same keys
    connection = session.connection(bind_arguments={"mapper": model})
    table = model.__table__
    assert isinstance(table, Table)
    # Core statements, not the ORM's bulk INSERT: the ORM leaves out every None, so rows with and
    # without, say, an expiry have different columns; it ran one statement per run of alike
    # rows and spliced their results together, quadratic in the number of runs (most of a
    # planning pass went there). Here only a None the ORM would replace by a default starts a
    # statement of its own, so a planning batch is one statement.
    inserted = 0
    for _, group in groupby(_column_rows(inspect(model).columns, rows), key=tuple):
        batch = list(group)
        if connection.dialect.name == "sqlite" and _sqlite_insert_ignore_fits(table, batch[0]):
            inserted += _sqlite_insert_ignore(connection, table, batch, key)
            continue
        if connection.dialect.name == "postgresql":
            stmt: Any = postgresql.insert(table)
        else:
            stmt = sqlite.insert(table)
        # RETURNING counts only the rows inserted (rowcount is not reliable for this on every
        # driver); SQLAlchemy's "insertmanyvalues" sends the rows in multi-row batches.
        stmt = stmt.on_conflict_do_nothing(index_elements=[key]).returning(table.c[key])
        inserted += len(connection.execute(stmt, batch).all())
    return inserted


def _column_rows(
    columns: ReadOnlyColumnCollection[str, Column[Any]], rows: Sequence[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """Rows keyed by column; None left out where the column would supply a default instead
    (what the ORM's bulk INSERT does), and names that are not mapped columns ignored."""
    shapes: dict[tuple[str, ...], tuple[dict[str, str], list[str], bool]] = {}
    for row in rows:
        names = tuple(row)
        if names not in shapes:
            keys = {name: columns[name].key for name in names if name in columns}
            defaulted = [name for name in keys if _defaulted(columns[name])]
            as_is = len(keys) == len(names) and all(k == v for k, v in keys.items())
            shapes[names] = (keys, defaulted, as_is)
        keys, defaulted, as_is = shapes[names]
        if as_is and not any(row[name] is None for name in defaulted):
            yield row  # already keyed by column, and nothing to leave out
            continue
        yield {
            key: row[name]
            for name, key in keys.items()
            if not (row[name] is None and name in defaulted)
        }


def _defaulted(column: Column[Any]) -> bool:
    if column.type.should_evaluate_none:
        return False  # None is a value of its own here (JSON null)
    return column.default is not None or column.server_default is not None or column.primary_key


def _sqlite_insert_ignore_fits(table: Table, row: dict[str, Any]) -> bool:
    """The fast path below fills in constant defaults only; a callable one such as ``utcnow``
    is left to SQLAlchemy, which calls it once per row."""
    return all(
        column.key in row
        or column.default is None
        or isinstance(column.default, ScalarElementColumnDefault)
        for column in table.columns
    )


def _sqlite_insert_ignore(
    connection: Connection, table: Table, rows: list[dict[str, Any]], key: str
) -> int:
    """INSERT .. ON CONFLICT DO NOTHING for many rows with the same columns, on SQLite.

    The statement SQLAlchemy would send, with the values converted by the columns' own bind
    processors, but each distinct value converted once: a planning pass inserts millions of rows
    whose dates, enums and contexts repeat, and converting every value of every row cost more
    than SQLite's own work. ``executemany`` runs the prepared statement once per row; the
    cursor's row count adds up the rows actually inserted.
    """
    dialect = connection.dialect
    stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    compiled = stmt.compile(dialect=dialect, column_keys=list(rows[0]))
    assert compiled.positiontup is not None
    # One way to get each bound value from a row: its own, converted, or the column's constant
    # default (the statement includes every column that has one).
    getters: list[Callable[[dict[str, Any]], Any]] = []
    for name in compiled.positiontup:
        column = table.c[name]
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if name not in rows[0]:
            assert isinstance(column.default, ScalarElementColumnDefault)
            value = column.default.arg
            getters.append(_constant(process(value) if process is not None else value))
        elif process is None:
            getters.append(itemgetter(name))
        else:
            getters.append(_Converter(name, process, json=isinstance(column.type, JSON)))
    params = [tuple([get(row) for get in getters]) for row in rows]
    return int(connection.exec_driver_sql(compiled.string, params).rowcount)


class _Converter:
    """A column's bind processor, remembering what it returned for each value in this batch."""

    def __init__(self, name: str, process: Callable[[Any], Any], *, json: bool) -> None:
        self.name = name
        self.process = process
        self.key = _json_key if json else _value_key
        self.seen: dict[Any, Any] = {}

    def __call__(self, row: dict[str, Any]) -> Any:
        value = row[self.name]
        try:
            key = self.key(value)
        except TypeError:  # not hashable: convert every time
            return self.process(value)
        try:
            return self.seen[key]
        except KeyError:
            converted = self.seen[key] = self.process(value)
            return converted


def _value_key(value: Any) -> Hashable:
    # With the type: 1 and True are equal keys, and may not convert alike.
    return (value.__class__, value)


_SCALARS = (str, int, float, bool, type(None))


def _json_key(value: Any) -> Hashable:
    """Flat dicts of plain values, such as the planner's message contexts (a few distinct ones
    in a million rows), by content; anything else is not remembered."""
    if not isinstance(value, dict) or not all(isinstance(v, _SCALARS) for v in value.values()):
        raise TypeError("not remembered")
    return tuple((k, v.__class__, v) for k, v in value.items())


def _constant(value: Any) -> Callable[[dict[str, Any]], Any]:
    return lambda _row: value


@contextmanager
def advisory_lock(engine: Engine, key: int) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock while inside; yields whether we got it.

    On SQLite there is one process per database file, so the lock is always granted.
    """
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        got = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield got
        finally:
            if got:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
