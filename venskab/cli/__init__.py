"""The ``venskab`` command line."""

from __future__ import annotations

import click

from venskab import __version__
from venskab.cli import bot, data, doctor, matches, operations, staff, surveys
from venskab.cli.common import AppContext


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="venskab")
@click.pass_context
def main(ctx: click.Context) -> None:
    """venskab: follow-up of volunteer friendship-family programmes.

    Configuration comes from environment variables (see the README). Without any, it runs on
    a SQLite file ./venskab.db with sandbox channels that record messages instead of sending.
    """
    app = ctx.ensure_object(AppContext)
    ctx.call_on_close(app.close)


operations.register(main)
matches.register(main)
data.register(main)
staff.register(main)
surveys.register(main)
bot.register(main)
doctor.register(main)
