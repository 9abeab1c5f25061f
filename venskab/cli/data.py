"""Data in and out: CSV import, and a person's export and erasure.

``venskab import KIND FILE`` (see :mod:`followup.import_file` for the columns),
``venskab person export KIND ID [--out FILE]`` and ``venskab person erase KIND ID --yes``
(see :mod:`followup.people` and :mod:`followup.erasure`).
"""

from __future__ import annotations

import json
import os
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


def _person_id(session: Session, kind: str, ident: str) -> int:
    try:
        if ident.startswith("ref:"):
            return people.find_by_ref(session, kind, ident.removeprefix("ref:"))
        number = row_id(ident)
        if number is None:
            raise UserError(
                f"{ident!r} is not an id (a whole number from 1 to {MAX_ID}) or ref:REF"
            )
        return number
    except PersonError as exc:
        raise UserError(str(exc)) from exc


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
        person_id = _person_id(session, kind, ident)
        try:
            data = people.export_person(session, kind, person_id, now=app.now())
        except PersonError as exc:
            raise UserError(str(exc)) from exc
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
        raise UserError(f"cannot write {out}: {exc.strerror}") from exc
    click.echo(f"wrote everything held about {kind} {person_id} to {out}")


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
            f"erasing {kind} {ident} cannot be undone: names, contact details and free text "
            "about them are removed for good. Export first if they asked for a copy "
            f"(venskab person export {kind} {ident}), then run again with --yes"
        )
    with app.transaction() as session:
        person_id = _person_id(session, kind, ident)
        try:
            summary = erasure.erase_person(session, kind, person_id, "cli", now=app.now())
        except PersonError as exc:
            raise UserError(str(exc)) from exc
    click.echo(describe_erasure(summary))


ERASURE_LABELS = {
    "checkin_texts_cleared": "check-in texts cleared",
    "visit_notes_cleared": "visit notes cleared",
    "messages_cleared": "message texts cleared",
    "messages_cancelled": "planned messages cancelled",
    "escalations_cleared": "escalations cleared of free text",
    "task_notes_cleared": "task notes cleared",
    "sparring_rsvps_deleted": "sparring RSVPs deleted",
    "survey_responses_deleted": "survey answers deleted",
    "matches_unlinked": "matches unlinked",
}


def describe_erasure(summary: dict[str, object]) -> str:
    matches = summary.get("matches", 0)
    lines = [
        f"{summary['kind']} {summary['id']} erased; {matches} "
        f"match{'es' if matches != 1 else ''} kept for the statistics"
    ]
    lines.extend(
        f"  {value} {label}" for key, label in ERASURE_LABELS.items() if (value := summary.get(key))
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
    click.echo(report.describe())


def retention_policy(settings: Settings) -> RetentionPolicy:
    return RetentionPolicy(
        free_text_months=settings.retention_text_months,
        contact_months=settings.retention_contact_months,
    )
