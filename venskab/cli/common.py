"""What every command shares: settings, the database, and errors that exit with status 2."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.services import Services
from scheduler import i18n
from scheduler.i18n import N_
from scheduler.programme import PROGRAMMES_DIR, Programme, ProgrammeError, load_all
from scheduler.working_days import set_days_off
from store import clock as store_clock
from store.db import make_engine, make_session_factory, upgrade
from venskab.settings import Settings, SettingsError, load_settings


class UserError(click.ClickException):
    """Bad input from the person at the keyboard: one clear message, exit status 2."""

    exit_code = 2

    def __init__(self, message: str | Exception) -> None:
        # A refusal from the domain layer carries its reason as a message id: said in the
        # staff member's language (``--lang``, VENSKAB_LANGUAGE), not in the log's English.
        from followup.refused import Refused

        if isinstance(message, Refused):
            message = message.text(staff_texts())
        super().__init__(str(message))

    def show(self, file: object = None) -> None:
        click.echo(f"venskab: {self.format_message()}", err=True)


MAX_ID = 2**31 - 1  # the largest id the database's integer columns hold


def row_id(value: str) -> int | None:
    """The id in ``value`` if it is one (ASCII digits, 1 to MAX_ID); None otherwise."""
    value = value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_ID else None


class RowId(click.ParamType):
    """A database id. Anything else is one clear line and exit status 2 (not a traceback)."""

    name = "id"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> int:
        if isinstance(value, int):
            return value
        number = row_id(str(value))
        if number is None:
            what = (param.human_readable_name if param else "ID").upper()
            message = N_("%(what)s: %(value)s is not an id (a whole number from 1 to %(max)d)")
            raise UserError(
                staff_texts().gettext(message, what=what, value=repr(value), max=MAX_ID)
            )
        return number


def staff_texts() -> i18n.Texts:
    """The texts of the staff member running the command (``--lang``, ``VENSKAB_LANGUAGE``),
    for what is said before the command's own code runs (an argument that is no id)."""
    ctx = click.get_current_context(silent=True)
    app = ctx.find_object(AppContext) if ctx is not None else None
    try:
        return app.texts if app is not None else i18n.texts("da")
    except SettingsError:  # a bad setting is reported by the command itself, in its words
        return i18n.texts("da")


ROW_ID = RowId()


def _wall_clock() -> datetime:
    """The real time, whatever the sandbox's clock says (staff sessions last in real hours)."""
    return datetime.now(UTC)


@dataclass
class AppContext:
    """Built once per command; everything is created on first use."""

    env: dict[str, str] | None = None
    now_override: datetime | None = None
    # The sandbox's clock runs this far ahead of the wall clock (venskab.sandbox).
    time_offset: timedelta = timedelta(0)
    # ``venskab --lang``: the language of what the command prints (else VENSKAB_LANGUAGE).
    language: str | None = None
    _engine: Engine | None = field(default=None, repr=False)

    @cached_property
    def settings(self) -> Settings:
        try:
            settings = load_settings(self.env)
        except SettingsError as exc:
            raise UserError(f"setting {exc}") from exc
        set_days_off(settings.extra_days_off)
        # The organisation's own wording, over the shipped catalogs and templates, from now on.
        from scheduler import i18n

        i18n.configure(settings.texts_dir, settings.languages)
        return settings

    @property
    def locale(self) -> str:
        """The language staff read this command's output in: ``--lang``, else the setting."""
        return self.language or self.settings.language

    @property
    def texts(self) -> i18n.Texts:
        return i18n.texts(self.locale)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.settings.database_url)
            # From now on rows are stamped by this context's clock (a tick's --now included) and
            # new people get its zone: the store reads neither the wall clock nor the settings.
            zone = self.settings.timezone
            store_clock.install(self.now, lambda: zone)
        return self._engine

    @cached_property
    def session_factory(self) -> sessionmaker[Session]:
        return make_session_factory(self.engine)

    @cached_property
    def programmes(self) -> dict[str, Programme]:
        try:
            return load_all(self.settings.programmes_dir or PROGRAMMES_DIR)
        except ProgrammeError as exc:
            raise UserError(str(exc)) from exc

    @cached_property
    def services(self) -> Services:
        """What the bot and the web app are handed: they never see this CLI context."""
        return Services(
            settings=self.settings,
            engine=self.engine,
            session_factory=self.session_factory,
            programmes=self.programmes,
            clock=self.now,
            zone=self.settings.zone,
            wall_clock=_wall_clock,
        )

    def upgrade(self) -> None:
        upgrade(self.engine)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.session_factory() as session, session.begin():
            yield session

    def now(self) -> datetime:
        return self.now_override or datetime.now(UTC) + self.time_offset

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


pass_app = click.make_pass_decorator(AppContext, ensure=True)


def parse_when(value: str, zone_name: str) -> datetime:
    """An ISO date or date-time; without an offset it is read in the configured zone."""
    from zoneinfo import ZoneInfo

    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise UserError(
            staff_texts().gettext(
                "%(value)s is not an ISO date or time such as 2026-03-02T19:00", value=repr(value)
            )
        ) from exc
    if not 2000 <= parsed.year <= 2100:
        raise UserError(
            staff_texts().gettext(
                "%(value)s is not a time this system can plan for (years 2000-2100)",
                value=repr(value),
            )
        )
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(zone_name))
    return parsed.astimezone(UTC)


def _progress_label(texts: i18n.Texts, phase: str) -> str:
    if phase == "checking":
        return texts.pgettext("progress", "checking rows")
    if phase == "writing":
        return texts.pgettext("progress", "writing rows")
    return phase


T = TypeVar("T")


class TerminalProgress:
    """A progress bar on the terminal (stderr) for long work, one per phase ("checking",
    "writing"); nothing when stderr is not a terminal (cron, a pipe) or the work is short."""

    def __init__(self, at_least: int = 500, texts: i18n.Texts | None = None) -> None:
        self.at_least = at_least
        self.texts = texts or i18n.texts(i18n.SOURCE_LANGUAGE)
        self.phase: str | None = None
        self.bar: Any = None

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < self.at_least or not sys.stderr.isatty():
            return
        if phase != self.phase:
            self.close()
            self.phase = phase
            self.bar = click.progressbar(
                length=total,
                label=_progress_label(self.texts, phase),
                file=sys.stderr,
                width=30,
            )
            self.bar.__enter__()
        self.bar.update(1)
        if done >= total:
            self.close()

    def track(self, phase: str, items: Sequence[T]) -> Iterator[T]:
        """The items, one by one, with the bar moving as they are used."""
        for done, item in enumerate(items, 1):
            self(phase, done, len(items))
            yield item

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
