"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime in, an aware UTC datetime out.

    SQLite keeps no time zone, so values are stored as naive UTC there and given back their
    tzinfo on the way out. Naive datetimes are refused: a local time stored as if it were UTC
    is the kind of bug that shows up an hour off twice a year.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store aware datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LocaleColumn(TypeDecorator[Any]):
    """A person's language (:class:`store.models.enums.Locale`) as a short string.

    The same VARCHAR(24) the enumeration columns always were (no migration), but open: a code
    for a language added later ("ar") reads back as a ``Locale`` instead of failing the row.
    """

    impl = String(24)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        from store.models.enums import Locale

        return None if value is None else Locale(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        from store.models.enums import Locale

        return None if value is None else Locale(value)
