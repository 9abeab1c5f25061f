"""The ``venskab`` command line.

Each module under ``venskab.cli`` registers its commands; a command's module is imported only
when that command runs (or when the help lists them all), so ``venskab tick`` from cron loads
neither the Telegram bot nor the web server."""

from __future__ import annotations

import gc
import importlib

import click

from venskab import __version__
from venskab.cli.common import AppContext

MODULES = (
    "operations",
    "matches",
    "plans",
    "data",
    "staff",
    "surveys",
    "reports",
    "contacts",
    "bot",
    "calendar",
    "doctor",
    "texts",
)

# Where each command lives; a command missing here is still found, by loading every module.
COMMANDS = {
    "run": "operations",
    "db": "operations",
    "programme": "operations",
    "tick": "operations",
    "simulate": "operations",
    "match": "matches",
    "plan": "plans",
    "import": "data",
    "person": "data",
    "retention": "data",
    "escalations": "staff",
    "ack": "staff",
    "snooze": "staff",
    "resolve": "staff",
    "tasks": "staff",
    "task": "staff",
    "staff": "staff",
    "survey": "surveys",
    "mail": "surveys",
    "report": "reports",
    "contact": "contacts",
    "invite": "bot",
    "sparring": "bot",
    "calendar": "calendar",
    "doctor": "doctor",
    "texts": "texts",
}


class LazyGroup(click.Group):
    """A group that imports a command's module on first use."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._loaded: set[str] = set()

    def load(self, module: str) -> None:
        if module not in self._loaded:
            self._loaded.add(module)
            importlib.import_module(f"venskab.cli.{module}").register(self)

    def load_all(self) -> None:
        for module in MODULES:
            self.load(module)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.load(COMMANDS[cmd_name])
        if cmd_name not in self.commands:
            self.load_all()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return super().list_commands(ctx)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="venskab")
@click.option(
    "--lang",
    "language",
    metavar="LANGUAGE",
    help="The language of what the command prints: da, en (default: VENSKAB_LANGUAGE, else da).",
)
@click.pass_context
def main(ctx: click.Context, language: str | None) -> None:
    """venskab: follow-up of volunteer friendship-family programmes.

    Configuration comes from environment variables (see the README). Without any, it runs on
    a SQLite file ./venskab.db with sandbox channels that record messages instead of sending.
    """
    app = ctx.ensure_object(AppContext)
    if language is not None:
        from scheduler import i18n

        if language not in i18n.enabled_languages():
            codes = ", ".join(sorted(i18n.enabled_languages()))
            raise click.BadParameter(
                app.texts.gettext("expected one of %(codes)s", codes=codes), param_hint="--lang"
            )
        app.language = language
    ctx.call_on_close(app.close)
    if not gc.isenabled():  # started by the console script (venskab.entry)
        # The command's module is loaded by now: keep what start-up allocated out of the cyclic
        # collector's sight, and collect what the command allocates.
        gc.freeze()
        gc.enable()
