"""Running the system: ``run``, ``db upgrade``, ``programme check``, ``tick``, ``simulate``."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click
import yaml

from scheduler.programme import ProgrammeError, load_programme
from scheduler.school_calendar import SchoolCalendarError, is_school_calendar, load_school_calendar
from venskab.cli.common import AppContext, UserError, parse_when, pass_app, staff_texts

if TYPE_CHECKING:
    from venskab.runtime import Runtime


def register(group: click.Group) -> None:
    group.add_command(run)
    group.add_command(db)
    group.add_command(programme)
    group.add_command(tick)
    group.add_command(simulate)


@click.command()
@click.option(
    "--no-demo", is_flag=True, help="Do not seed demo data into an empty embedded database."
)
@pass_app
def run(app: AppContext, no_demo: bool) -> None:
    """Start everything: web server, scheduler and (if configured) the Telegram bot."""
    from venskab.serving import serve

    # uvicorn stops serving on SIGINT and SIGTERM and then re-raises the signal. With Python's
    # default SIGTERM handler that would kill the process before the bot, the scheduler and the
    # channels are shut down: treat SIGTERM (systemd, Docker) like Ctrl+C instead.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    # serve() has shut down cleanly by the time the KeyboardInterrupt arrives here.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(app, seed_demo=not no_demo))


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: AppContext) -> None:
    """Create or migrate the schema to the newest version."""
    app.upgrade()
    click.echo("database schema is up to date")


@click.group()
def programme() -> None:
    """Programme files (programmes/*.yaml) and the school holidays (calendars/*.yaml)."""


@programme.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), required=True)
def programme_check(files: tuple[Path, ...]) -> None:
    """Validate programme files (and the school holiday file); report every problem with file,
    touchpoint and field."""
    problems: list[str] = []
    for path in files:
        if _is_school_calendar(path):
            try:
                calendar = load_school_calendar(path)
            except SchoolCalendarError as exc:
                problems.extend(str(exc).splitlines())
                continue
            extra = (
                f", {len(calendar.municipalities)} municipalities"
                if calendar.municipalities
                else ""
            )
            click.echo(f"{path}: ok (school holidays, {len(calendar.default)} holidays{extra})")
            continue
        try:
            loaded = load_programme(path)
        except ProgrammeError as exc:
            problems.extend(str(exc).splitlines())
            continue
        click.echo(f"{path}: ok ({loaded.name}, {len(loaded.touchpoints)} touchpoints)")
    if problems:
        raise UserError("\n".join(problems))


def _is_school_calendar(path: Path) -> bool:
    """A school holiday file (``holidays:`` and no ``touchpoints:``) rather than a programme."""
    try:
        return is_school_calendar(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False  # the programme loader reports it


@click.command()
@click.option(
    "--now",
    "now_text",
    required=True,
    help="The moment to act as, ISO 8601 (e.g. 2026-03-09T19:00).",
)
@click.option("--horizon-days", default=14, show_default=True, type=click.IntRange(1, 120))
@pass_app
def tick(app: AppContext, now_text: str, horizon_days: int) -> None:
    """One planning and dispatch cycle as of NOW (catch-up after downtime; tests)."""
    now = parse_when(now_text, app.settings.timezone)

    async def one(runtime: Runtime) -> None:
        result = await runtime.tick(now, horizon_days=horizon_days)
        click.echo(result.describe())

    _run_ticks(app, now, one)


_EVERY = re.compile(r"([0-9]{1,6})\s*(m|min|h|d)", re.ASCII)
_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 24 * 60}
_LONGEST = timedelta(days=366)  # a tick a year apart is the longest span a simulation needs


def _every(text: str) -> timedelta:
    found = _EVERY.fullmatch(text.strip())
    every = timedelta(minutes=int(found[1]) * _MINUTES[found[2]]) if found else None
    if every is None or not timedelta(0) < every <= _LONGEST:
        raise UserError(
            staff_texts().gettext(
                "--every: expected a span from 1m to 366d, such as 15m, 8h or 1d, got %(value)s",
                value=repr(text),
            )
        )
    return every


@click.command()
@click.option("--from", "from_text", required=True, help="The first moment, ISO 8601.")
@click.option("--to", "to_text", required=True, help="The last moment, ISO 8601.")
@click.option("--every", "every_text", default="8h", show_default=True, help="15m, 8h, 1d…")
@click.option("--horizon-days", default=14, show_default=True, type=click.IntRange(1, 120))
@pass_app
def simulate(
    app: AppContext, from_text: str, to_text: str, every_text: str, horizon_days: int
) -> None:
    """Run ticks from FROM to TO, one EVERY span apart, in one process (demos, the sandbox)."""
    start = parse_when(from_text, app.settings.timezone)
    end = parse_when(to_text, app.settings.timezone)
    every = _every(every_text)
    if end < start:
        raise UserError("--to is before --from")
    if (end - start) / every > 10_000:
        raise UserError("that is more than 10,000 ticks: choose a longer --every")

    async def many(runtime: Runtime) -> None:
        moment, ticks, sent = start, 0, 0
        while moment <= end and not runtime.dispatcher.stopping:
            app.now_override = moment
            result = await runtime.tick(moment, horizon_days=horizon_days)
            ticks, sent = ticks + 1, sent + result.dispatch.sent
            moment += every
        click.echo(f"simulated {ticks} ticks from {start.isoformat()}: {sent} messages sent")

    _run_ticks(app, start, many)


def _run_ticks(app: AppContext, now: datetime, body: Callable[[Runtime], Awaitable[None]]) -> None:
    """Run ``body`` with a runtime whose channels are closed at the end; SIGTERM and Ctrl+C
    stop the claiming, and what is in flight is finished and recorded."""
    from venskab.runtime import Runtime, quiet_third_party_loggers

    quiet_third_party_loggers()
    app.now_override = now  # every row written in a tick is stamped with its moment
    app.upgrade()
    runtime = Runtime(app)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, runtime.stop)
        try:
            await body(runtime)
        finally:
            await runtime.close()

    asyncio.run(main())
