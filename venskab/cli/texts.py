"""``venskab texts check|export|import``: the organisation's own wording, without code.

The wording lives in the folder ``VENSKAB_TEXTS_DIR``: ``<language>.po`` catalogs with the
texts the organisation words differently, and ``templates/`` with its own message templates
(see :mod:`followup.wording`). What these commands print is in the language of the terminal
(``LANGUAGE``, ``LC_ALL``, ``LC_MESSAGES`` or ``LANG``), Danish when that names no catalog.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from followup import wording, wording_check, wording_sheet
from scheduler import i18n
from venskab.cli.common import AppContext, UserError, pass_app

_LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


def register(group: click.Group) -> None:
    group.add_command(texts)


def cli_texts(app: AppContext) -> i18n.Texts:
    """The texts for the person at the terminal, in the language their locale names."""
    env = app.env if app.env is not None else os.environ
    enabled = app.settings.enabled_languages
    for name in _LOCALE_VARIABLES:
        value = env.get(name, "")
        for part in value.split(":"):
            code = part.split("_", 1)[0].split(".", 1)[0].lower()
            if code in enabled:
                return i18n.texts(code)
    return i18n.texts("da")


def _folder(app: AppContext, t: i18n.Texts) -> Path:
    folder = app.settings.texts_dir
    if folder is None:
        raise UserError(
            t.gettext(
                "VENSKAB_TEXTS_DIR is not set: set it to the folder that holds your own wording"
            )
        )
    return folder


@click.group()
def texts() -> None:
    """The organisation's own wording: check it, and edit it in a spreadsheet."""


@texts.command("check")
@pass_app
def check(app: AppContext) -> None:
    """Check the catalogs and templates in VENSKAB_TEXTS_DIR: one line per problem."""
    t = cli_texts(app)
    folder = _folder(app, t)
    enabled = app.settings.enabled_languages
    report = wording_check.check(folder, t, enabled)
    for code, count in sorted(report.overrides.items()):
        click.echo(
            t.ngettext(
                "%(file)s: %(num)d text of your own",
                "%(file)s: %(num)d texts of your own",
                count,
                file=f"{code}.po",
            )
        )
    for name in report.templates:
        click.echo(t.gettext("templates/%(name)s: your own template", name=name))
    for code in enabled:
        click.echo(wording.sms_cost(code, t))
    for problem in report.problems:
        click.echo(str(problem), err=True)
    if report.problems:
        raise UserError(
            t.ngettext(
                "%(num)d problem in %(folder)s",
                "%(num)d problems in %(folder)s",
                len(report.problems),
                folder=str(folder),
            )
        )
    click.echo(t.gettext("ok: no problems in %(folder)s", folder=str(folder)))


@texts.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def export(app: AppContext, file: Path) -> None:
    """Write every text in every language to FILE (CSV for Excel: UTF-8, semicolons)."""
    t = cli_texts(app)
    data = wording_sheet.export_csv(app.settings.texts_dir, app.settings.enabled_languages)
    try:
        file.write_bytes(data)
    except OSError as exc:
        raise UserError(
            t.gettext("cannot write %(file)s (%(error)s)", file=str(file), error=exc.strerror or "")
        ) from exc
    rows = data.count(b"\n") - 1
    click.echo(
        t.ngettext("%(file)s: %(num)d text", "%(file)s: %(num)d texts", rows, file=str(file))
    )


@texts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@pass_app
def import_(app: AppContext, file: Path) -> None:
    """Read FILE (as written by export, edited in a spreadsheet) into VENSKAB_TEXTS_DIR."""
    t = cli_texts(app)
    folder = _folder(app, t)
    try:
        done = wording_sheet.import_csv(
            file.read_bytes(), file.name, folder, app.settings.enabled_languages, t
        )
    except wording_sheet.ImportRefused as exc:
        for problem in exc.problems[:20]:
            click.echo(str(problem), err=True)
        raise UserError(
            t.ngettext(
                "%(num)d problem: nothing was written",
                "%(num)d problems: nothing was written",
                len(exc.problems),
            )
        ) from exc
    i18n.configure(folder, app.settings.languages)  # this process reads the new texts now
    for code, count in sorted(done.changed.items()):
        click.echo(
            t.ngettext(
                "%(file)s: %(num)d text of your own",
                "%(file)s: %(num)d texts of your own",
                count,
                file=str(folder / f"{code}.po"),
            )
        )
    click.echo(t.gettext("Restart venskab run to use the new texts."))
