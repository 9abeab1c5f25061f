"""Queries that differ between SQLite and PostgreSQL, behind one interface."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time
from enum import Enum
from itertools import groupby, repeat
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Column,
    ColumnElement,
    Connection,
    CursorResult,
    Dialect,
    Engine,
    Integer,
    Select,
    Table,
    func,
    inspect,
    literal,
    select,
    text,
    true,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.sql.base import ReadOnlyColumnCollection
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from store.models import Base


def select_for_ids(
    connection: Connection,
    query: Select[*tuple[Any, ...]],
    column: ColumnElement[Any] | QueryableAttribute[Any],
    ids: Sequence[int],
) -> CursorResult[*tuple[Any, ...]]:
    """``query`` narrowed to the rows whose ``column`` is one of ``ids``, through its index.

    On SQLite that is ``column IN (...)``. On PostgreSQL it is a lateral probe per id, for a
    plan that does not depend on statistics: a table that grew by a million rows since it was
    last analyzed (during a first planning pass, or where autovacuum is off) has estimates
    that make ``IN`` of a thousand ids read the whole table instead of the index.
    """
    if connection.dialect.name != "postgresql":
        return connection.execute(query.where(column.in_(ids)))
    wanted = (
        func.unnest(literal(list(ids), postgresql.ARRAY(Integer)))
        .table_valued("id")
        .render_derived()
        .alias("wanted")
    )
    probe = query.where(column == wanted.c.id).lateral("probe")
    return connection.execute(select(probe).select_from(wanted).join(probe, true()))


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
    if connection.dialect.name == "postgresql":
        stmt: Any = postgresql.insert(table)
    else:
        stmt = sqlite.insert(table)
    stmt = stmt.on_conflict_do_nothing(index_elements=[key])
    inserted = 0
    for batch in _alike(inspect(model).columns, rows):
        if connection.dialect.driver in _ROWCOUNT_DRIVERS and _constant_defaults_only(
            table, batch.rows[0]
        ):
            inserted += _executemany(connection, stmt, table, batch)
        else:
            # RETURNING counts only the rows inserted (rowcount is not reliable for this on
            # every driver); SQLAlchemy's "insertmanyvalues" sends the rows in multi-row
            # batches.
            returning = stmt.returning(table.c[key])
            inserted += len(connection.execute(returning, batch.rows).all())
    return inserted


# Drivers whose cursor, after executemany, counts the rows each statement inserted.
_ROWCOUNT_DRIVERS = {"pysqlite", "psycopg"}


class _Batch(NamedTuple):
    rows: list[dict[str, Any]]  # keyed by column, all with the same columns
    columns: dict[str, tuple[Any, ...]]  # the same values by column, when already at hand


def _alike(
    columns: ReadOnlyColumnCollection[str, Column[Any]], rows: Sequence[dict[str, Any]]
) -> Iterator[_Batch]:
    """The rows keyed by column, in runs with the same columns.

    None is left out where the column would supply a default instead (what the ORM's bulk
    INSERT does), and names that are not mapped columns are ignored.
    """
    names = list(rows[0])
    if all(name in columns and columns[name].key == name for name in names) and set(
        map(len, rows)
    ) == {len(names)}:
        # The usual case: the same names in every row (a row without one of them fails the
        # transpose), nothing to rename, and no None to leave out.
        try:
            values = dict(zip(names, _columnwise(rows, names), strict=True))
        except KeyError:
            pass
        else:
            if not any(None in values[name] for name in names if _defaulted(columns[name])):
                yield _Batch(list(rows), values)
                return
    for _, run in groupby(_column_rows(columns, rows), key=tuple):
        yield _Batch(list(run), {})


def _column_rows(
    columns: ReadOnlyColumnCollection[str, Column[Any]], rows: Sequence[dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    for row in rows:
        out: dict[str, Any] = {}
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                continue
            if value is None and _defaulted(column):
                continue
            out[column.key] = value
        yield out


def _defaulted(column: Column[Any]) -> bool:
    if column.type.should_evaluate_none:
        return False  # None is a value of its own here (JSON null)
    return column.default is not None or column.server_default is not None or column.primary_key


def _constant_defaults_only(table: Table, row: dict[str, Any]) -> bool:
    """Whether every column missing from ``row`` has no default or a constant one.

    ``_executemany`` fills in constants only; a callable default such as ``utcnow`` is left to
    SQLAlchemy, which calls it once per row.
    """
    return all(
        column.key in row
        or column.default is None
        or isinstance(column.default, ScalarElementColumnDefault)
        for column in table.columns
    )


def _executemany(connection: Connection, stmt: Any, table: Table, batch: _Batch) -> int:
    """The INSERT for many rows with the same columns, as one ``executemany``.

    The statement SQLAlchemy would send, with the values converted by the columns' own bind
    processors, but column by column and each distinct value once: a planning pass inserts
    millions of rows whose dates, enums and contexts repeat, and converting every value of
    every row one by one cost as much as the database's own work. The driver prepares the
    statement once (psycopg sends the rows in a pipeline), and its row count adds up the rows
    actually inserted. On PostgreSQL this also spares psycopg parsing the multi-row VALUES
    of "insertmanyvalues" again for every thousand rows, which cost more than the inserts.
    """
    dialect = connection.dialect
    names = list(batch.rows[0])
    compiled = stmt.compile(dialect=dialect, column_keys=names)
    given = batch.columns or dict(zip(names, _columnwise(batch.rows, names), strict=True))
    binds = compiled.positiontup or list(compiled.bind_names.values())
    values: list[Iterable[Any]] = []
    for name in binds:
        column = table.c[name]
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if name not in given:  # the statement includes every column with a default
            assert isinstance(column.default, ScalarElementColumnDefault)
            value = column.default.arg
            values.append(repeat(process(value) if process else value, len(batch.rows)))
        elif process is None:
            values.append(given[name])
        else:
            values.append(_convert(given[name], process, json=isinstance(column.type, JSON)))
    params: list[Any] = list(zip(*values, strict=True))
    if not compiled.positional:
        params = [dict(zip(binds, row, strict=True)) for row in params]
    return int(connection.exec_driver_sql(compiled.string, params).rowcount)


class RowInserter:
    """``INSERT ... ON CONFLICT (key) DO NOTHING`` for many rows made from a few templates.

    For a caller that inserts millions of rows built from a few thousand distinct templates (the
    planner): the values a template shares are converted for the database once
    (:meth:`template`), and each row is a tuple ``(template, *own)`` of that template and the
    row's own values in the order of ``per_row``, converted where :meth:`needs_conversion` says
    so (:meth:`convert`). No dict is built or converted per row, which was most of the Python
    cost of inserting a planning pass. Columns neither shared nor per row get their constant
    default.

    On SQLite the rows go as one ``executemany`` (SQLite binds a row in C). On PostgreSQL they go as one statement whose
    parameters are arrays in binary, one per own column plus the distinct templates, joined on
    the server: psycopg's executemany cost about 20 us per row in the client, and arrays of
    every column about half of that.
    """

    def __init__(
        self, dialect: Dialect, table: Table, shared: list[str], per_row: list[str], key: str
    ) -> None:
        self.table = table
        self.shared = shared
        self.per_row = per_row
        self.dialect = dialect
        defaulted: list[str] = []
        for column in table.columns:
            if column.key in shared or column.key in per_row:
                continue
            if column.default is None:
                if column.primary_key or column.nullable or column.server_default is not None:
                    continue  # left out of the statement: the database fills it in
                raise ValueError(f"{table.name}.{column.key}: give it, it has no default")
            if not isinstance(column.default, ScalarElementColumnDefault):
                raise ValueError(f"{table.name}.{column.key}: give it, it has no constant default")
            defaulted.append(column.key)
        self.defaults = tuple(self._process(name, self._default(name)) for name in defaulted)
        self.on_server = dialect.name == "postgresql"
        if self.on_server:
            # JSON goes as text, serialized once per template, and is parsed by the server.
            serialize = getattr(dialect, "_json_serializer", None) or json.dumps
            self.shared_processors = [
                serialize if isinstance(table.c[name].type, JSON) else self._processor(name)
                for name in shared
            ]
            self.sql = self._unnest_sql(dialect, key, defaulted)
            return
        self.shared_processors = [self._processor(name) for name in shared]
        # The columns in the order the rows give them, so that no row is rearranged.
        quote = dialect.identifier_preparer.quote
        given = [*shared, *per_row, *defaulted]
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(map(quote, given))}) "
            f"VALUES ({', '.join('?' * len(given))}) ON CONFLICT ({quote(key)}) DO NOTHING"
        )
        assert dialect.paramstyle == "qmark", dialect.paramstyle

    def _unnest_sql(self, dialect: Dialect, key: str, defaulted: list[str]) -> str:
        """INSERT ... SELECT from the rows' own columns, joined to the templates by number."""
        quote = dialect.identifier_preparer.quote
        table = self.table

        def array(name: str) -> str:
            type_ = table.c[name].type
            return f"%b::{'text' if isinstance(type_, JSON) else type_.compile(dialect)}[]"

        def value(alias: str, name: str) -> str:
            type_ = table.c[name].type
            cast = f"::{type_.compile(dialect)}" if isinstance(type_, JSON) else ""
            return f"{alias}.{quote(name)}{cast}"

        own = ", ".join(map(quote, self.per_row))
        shared = ", ".join(map(quote, self.shared))
        return (
            f"INSERT INTO {quote(table.name)} "
            f"({', '.join(map(quote, [*self.per_row, *self.shared, *defaulted]))}) "
            f"SELECT {', '.join(value('r', name) for name in self.per_row)}, "
            f"{', '.join(value('t', name) for name in self.shared)}"
            f"{''.join(f', %b::{table.c[name].type.compile(dialect)}' for name in defaulted)} "
            f"FROM unnest({', '.join(map(array, self.per_row))}, %b::integer[]) "
            f"AS r({own}, template_number) "
            f"JOIN unnest({', '.join(map(array, self.shared))}) WITH ORDINALITY "
            f"AS t({shared}, number) ON t.number = r.template_number "
            f"ON CONFLICT ({quote(key)}) DO NOTHING"
        )

    def _default(self, name: str) -> Any:
        default = self.table.c[name].default
        assert isinstance(default, ScalarElementColumnDefault)
        return default.arg

    def _processor(self, name: str) -> Callable[[Any], Any] | None:
        return self.table.c[name].type.dialect_impl(self.dialect).bind_processor(self.dialect)

    def _process(self, name: str, value: Any) -> Any:
        process = self._processor(name)
        return value if process is None else process(value)

    def needs_conversion(self, name: str) -> bool:
        """Whether values of this column must go through :meth:`convert` first."""
        return self._processor(name) is not None

    def convert(self, name: str, value: Any) -> Any:
        """A value of this column as the driver takes it."""
        return self._process(name, value)

    def template(self, values: dict[str, Any]) -> tuple[Any, ...]:
        """The shared values, converted, in the order of ``shared``."""
        return tuple(
            value if process is None else process(value)
            for process, value in zip(
                self.shared_processors, map(values.__getitem__, self.shared), strict=True
            )
        )

    def run(self, connection: Connection, rows: list[tuple[Any, ...]]) -> int:
        """Insert the rows, each ``(template, *own values)``; returns how many were new."""
        if not rows:
            return 0
        if self.on_server:
            templates: dict[int, tuple[tuple[Any, ...], int]] = {}
            numbers = []
            for row in rows:
                known = templates.get(id(row[0]))
                if known is None:  # holds the template: no id reuse meanwhile
                    known = templates[id(row[0])] = (row[0], len(templates) + 1)
                numbers.append(known[1])
            own = [list(column) for column in zip(*rows, strict=True)][1:]
            shared = [
                list(column) for column in zip(*(t for t, _ in templates.values()), strict=True)
            ]
            params = (*self.defaults, *own, numbers, *shared)  # in the order of the SQL
            return int(connection.exec_driver_sql(self.sql, params).rowcount)
        tail = self.defaults
        flat = [row[0] + row[1:] + tail for row in rows]
        return int(connection.exec_driver_sql(self.sql, flat).rowcount)


def _columnwise(rows: Sequence[dict[str, Any]], names: list[str]) -> Iterator[tuple[Any, ...]]:
    """The rows' values as one tuple per name (a transpose done in C)."""
    if len(names) == 1:
        return iter([tuple(row[names[0]] for row in rows)])
    return zip(*map(itemgetter(*names), rows), strict=True)


def _convert(values: Sequence[Any], process: Callable[[Any], Any], *, json: bool) -> list[Any]:
    """``[process(v) for v in values]``, calling ``process`` once per distinct value.

    Values that are equal but may convert differently are told apart: 1 and True by type, the
    same instant in two time zones by zone. Types not known to be safe that way (Decimal,
    float) are converted one by one, and JSON documents once per object (rows often share
    one; they keep it alive, so no id is reused meanwhile).
    """
    if json:
        converted = {id(v): process(v) for v in {id(v): v for v in values}.values()}
        return list(map(converted.__getitem__, map(id, values)))
    types = set(map(type, values))
    if not all(issubclass(t, _BY_VALUE) for t in types):
        return [process(v) for v in values]
    keys: Sequence[Any] = values
    if len(types - {type(None)}) > 1:
        keys = list(zip(map(type, values), values, strict=True))
    if any(issubclass(t, (datetime, time)) for t in types):
        zones = set(map(getattr, values, repeat("tzinfo"), repeat(None)))
        if len(zones - {None}) > 1:
            keys = [(k, getattr(v, "tzinfo", None)) for k, v in zip(keys, values, strict=True)]
    distinct = {k: process(v) for k, v in dict(zip(keys, values, strict=True)).items()}
    return list(map(distinct.__getitem__, keys))


_BY_VALUE = (str, int, Enum, date, time, type(None))  # bool is an int, datetime a date


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
