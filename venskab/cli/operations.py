"""Running the system: ``run``, ``db upgrade``, ``programme check``, ``tick``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import click

from scheduler.programme import ProgrammeError, load_programme
from venskab.cli.common import AppContext, UserError, parse_when, pass_app


def register(group: click.Group) -> None:
    group.add_command(run)
    group.add_command(db)
    group.add_command(programme)
    group.add_command(tick)


@click.command()
@click.option(
    "--no-demo", is_flag=True, help="Do not seed demo data into an empty embedded database."
)
@pass_app
def run(app: AppContext, no_demo: bool) -> None:
    """Start everything: web server, scheduler and (if configured) the Telegram bot."""
    from venskab.runtime import serve

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
    """Programme files (programmes/*.yaml)."""


@programme.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), required=True)
def programme_check(files: tuple[Path, ...]) -> None:
    """Validate programme files; report every problem with file, touchpoint and field."""
    problems: list[str] = []
    for path in files:
        try:
            loaded = load_programme(path)
        except ProgrammeError as exc:
            problems.extend(str(exc).splitlines())
            continue
        click.echo(f"{path}: ok ({loaded.name}, {len(loaded.touchpoints)} touchpoints)")
    if problems:
        raise UserError("\n".join(problems))


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
    from venskab.runtime import Runtime

    now = parse_when(now_text, app.settings.timezone)
    app.now_override = now  # every row written in this tick is stamped with its moment
    app.upgrade()
    runtime = Runtime(app)
    result = asyncio.run(runtime.tick(now, horizon_days=horizon_days))
    click.echo(result.describe())
