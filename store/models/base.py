"""The declarative base, the naming convention, and the mixins every model shares."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, Dialect, Enum, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates
from sqlalchemy.types import TypeDecorator

from store import clock
from store.models.enums import Locale
from store.types import UTCDateTime
from store.validation import normalise_email, normalise_phone

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Now, by the clock the composition root installed (see :mod:`store.clock`)."""
    return clock.now()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Stored as plain strings so that adding a value needs no database migration.
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=24,
        values_callable=lambda members: [m.value for m in members],
    )


class LocaleColumn(TypeDecorator[Locale]):
    """A person's language (:class:`store.models.enums.Locale`) as a short string.

    The same VARCHAR(24) the enumeration columns always were (no migration), but open: a code
    for a language added later ("ar") reads back as a ``Locale`` instead of failing the row.
    """

    impl = String(24)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else Locale(value).value

    def process_result_value(self, value: Any, dialect: Dialect) -> Locale | None:
        return None if value is None else Locale(value)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class PhoneEmailMixin:
    """Phone numbers are stored as E.164, emails normalised; anything else is refused."""

    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))

    @validates("phone")
    def _check_phone(self, _key: str, value: str | None) -> str | None:
        return normalise_phone(value) if value else None

    @validates("email")
    def _check_email(self, _key: str, value: str | None) -> str | None:
        return normalise_email(value) if value else None
