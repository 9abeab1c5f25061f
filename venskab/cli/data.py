"""Data in and out: CSV import, and a person's export and erasure.

``venskab import KIND FILE`` (see :mod:`followup.import_file` for the columns),
``venskab person export KIND ID [--out FILE]`` and ``venskab person erase KIND ID --yes``
(see :mod:`followup.people` and :mod:`followup.erasure`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from followup import erasure, importer, people
from followup.importer import ImportFailed
from followup.people import PersonError
from followup.people_html import render_html
from followup.retention import RetentionPolicy, run_retention
from followup.survey_defs import default_surveys
from scheduler import i18n
from store.audit import record
from venskab.cli.common import MAX_ID, AppContext, TerminalProgress, UserError, pass_app, row_id
from venskab.settings import Settings

PERSON_KINDS = list(people.KINDS)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``venskab`` group."""
    group.add_command(import_command)
    group.add_command(person)
    group.add_command(retention_command)


class _DryRun(Exception):
    """Raised inside the transaction to roll back a dry run."""


@click.command("import")
@click.argument("kind", type=click.Choice(importer.KINDS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the file and report, but write nothing.")
@pass_app
def import_command(app: AppContext, kind: str, file: Path, dry_run: bool) -> None:
    """Import staff, families, contacts or matches from a CSV file.

    Import in this order: staff, families, contacts, matches. Re-importing a file updates the
    records by their ref. Every row is checked first: on any problem nothing is written.
    """
    data = file.read_bytes()
    app.upgrade()
    progress = TerminalProgress(texts=app.texts)
    try:
        with app.transaction() as session:
            result = importer.import_csv(
                session,
                kind,
                data,
                file.name,
                app.programmes,
                today=app.now().astimezone(app.settings.zone).date(),
                progress=progress,
                languages=app.settings.enabled_languages,
            )
            if dry_run:
                raise _DryRun
    except _DryRun:
        progress.close()
        t = app.texts
        click.echo(
            t.gettext("%(result)s (dry run: nothing was written)", result=result.describe(t))
        )
        return
    except ImportFailed as exc:
        raise UserError("\n".join(exc.lines(app.texts))) from None
    except IntegrityError as exc:
        raise UserError(
            app.texts.gettext(
                "%(file)s: the database refused a row (another import running at the same "
                "time?); nothing was imported, run the import again",
                file=file.name,
            )
        ) from exc
    finally:
        progress.close()
    click.echo(result.describe(app.texts))


@click.group()
def person() -> None:
    """Everything held about one person: export it, or erase it.

    KIND is family, contact, staff or child; ID is the database id, or ref:REF with the
    organisation's own ref (not for a child).
    """


def _person_id(session: Session, kind: str, ident: str, texts: i18n.Texts) -> int:
    try:
        if ident.startswith("ref:"):
            return people.find_by_ref(session, kind, ident.removeprefix("ref:"))
        number = row_id(ident)
        if number is None:
            raise UserError(
                texts.gettext(
                    "%(value)s is not an id (a whole number from 1 to %(max)d) or ref:REF",
                    value=repr(ident),
                    max=MAX_ID,
                )
            )
        return number
    except PersonError as exc:
        raise UserError(exc.said.text(texts)) from exc


@person.command("export")
@click.argument("kind", type=click.Choice(PERSON_KINDS))
@click.argument("ident", metavar="ID")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the export to this file (readable by you only) instead of printing it.",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["json", "html"]),
    default="json",
    show_default=True,
    help="JSON, or a readable HTML page in the person's language (for a person who asks).",
)
@pass_app
def person_export(app: AppContext, kind: str, ident: str, out: Path | None, form: str) -> None:
    """Print everything held about one person as JSON (or as a readable HTML page)."""
    with app.transaction() as session:
        person_id = _person_id(session, kind, ident, app.texts)
        try:
            data = people.export_person(session, kind, person_id, now=app.now())
        except PersonError as exc:
            raise UserError(exc.said.text(app.texts)) from exc
        record(session, "cli", "person.export", people.ENTITIES[kind], person_id)
    if form == "html":
        text = render_html(data)
    else:
        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if out is None:
        click.echo(text, nl=False)
        return
    try:
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UserError(
            app.texts.gettext("cannot write %(file)s: %(error)s", file=out, error=exc.strerror)
        ) from exc
    click.echo(
        app.texts.gettext(
            "wrote everything held about %(kind)s %(id)d to %(file)s",
            kind=kind,
            id=person_id,
            file=out,
        )
    )


@person.command("erase")
@click.argument("kind", type=click.Choice(PERSON_KINDS))
@click.argument("ident", metavar="ID")
@click.option("--yes", is_flag=True, help="Confirm: the erasure cannot be undone.")
@pass_app
def person_erase(app: AppContext, kind: str, ident: str, yes: bool) -> None:
    """Erase one person's data; statistics (counts, dates, statuses) remain.

    Names become "erased", phone, email and Telegram are cleared, free text about them is
    cleared, and their survey answers and sparring RSVPs are deleted. Export first if the
    person asked for a copy.
    """
    if not yes:
        raise UserError(
            app.texts.gettext(
                "erasing %(kind)s %(id)s cannot be undone: names, contact details and free text "
                "about them are removed for good. Export first if they asked for a copy "
                "(venskab person export %(kind)s %(id)s), then run again with --yes",
                kind=kind,
                id=ident,
            )
        )
    with app.transaction() as session:
        person_id = _person_id(session, kind, ident, app.texts)
        try:
            summary = erasure.erase_person(session, kind, person_id, "cli", now=app.now())
        except PersonError as exc:
            raise UserError(exc.said.text(app.texts)) from exc
    click.echo(describe_erasure(summary, app.texts))


# What an erasure did, by the summary's key: one line each, its count in the reader's words.
ERASURE_LINES: dict[str, Callable[[i18n.Texts, int], str]] = {
    "checkin_texts_cleared": lambda t, n: t.ngettext(
        "%(num)d check-in text cleared", "%(num)d check-in texts cleared", n
    ),
    "visit_notes_cleared": lambda t, n: t.ngettext(
        "%(num)d visit note cleared", "%(num)d visit notes cleared", n
    ),
    "messages_cleared": lambda t, n: t.ngettext(
        "%(num)d message text cleared", "%(num)d message texts cleared", n
    ),
    "messages_cancelled": lambda t, n: t.ngettext(
        "%(num)d planned message cancelled", "%(num)d planned messages cancelled", n
    ),
    "escalations_cleared": lambda t, n: t.ngettext(
        "%(num)d escalation cleared of free text", "%(num)d escalations cleared of free text", n
    ),
    "task_notes_cleared": lambda t, n: t.ngettext(
        "%(num)d task note cleared", "%(num)d task notes cleared", n
    ),
    "sparring_rsvps_deleted": lambda t, n: t.ngettext(
        "%(num)d sparring RSVP deleted", "%(num)d sparring RSVPs deleted", n
    ),
    "survey_responses_deleted": lambda t, n: t.ngettext(
        "%(num)d survey answer deleted", "%(num)d survey answers deleted", n
    ),
    "matches_unlinked": lambda t, n: t.ngettext(
        "%(num)d match unlinked", "%(num)d matches unlinked", n
    ),
}


def describe_erasure(summary: dict[str, object], texts: i18n.Texts) -> str:
    matches = int(str(summary.get("matches", 0)))
    lines = [
        texts.ngettext(
            "%(kind)s %(id)s erased; %(num)d match kept for the statistics",
            "%(kind)s %(id)s erased; %(num)d matches kept for the statistics",
            matches,
            kind=summary["kind"],
            id=summary["id"],
        )
    ]
    lines.extend(
        "  " + line(texts, int(str(value)))
        for key, line in ERASURE_LINES.items()
        if (value := summary.get(key))
    )
    return "\n".join(lines)


@click.command("retention")
@click.option("--dry-run", is_flag=True, help="Show what would be cleared; change nothing.")
@pass_app
def retention_command(app: AppContext, dry_run: bool) -> None:
    """Clear free text and contact details whose time is up (see VENSKAB_RETENTION_*)."""
    with app.transaction() as session:
        report = run_retention(
            session,
            app.now(),
            app.now().astimezone(app.settings.zone).date(),
            default_surveys(),
            retention_policy(app.settings),
            dry_run=dry_run,
        )
    click.echo(report.describe(app.texts))


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        free_text_months=settings.retention_text_months,
        contact_months=settings.retention_contact_months,
    )
