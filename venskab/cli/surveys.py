"""Surveys and mail: ``survey list|check|results|export|import-completions`` and ``mail bounce``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from followup.bounces import bounced_addresses, mark_bounced
from followup.survey_defs import (
    SURVEYS_DIR,
    Survey,
    SurveyDefinitionError,
    default_surveys,
    load_survey,
)
from followup.survey_reports import paired_rows, results, write_csv
from followup.survey_results import CompletionImportError, import_completions, read_table
from scheduler.links import secret_for
from store.audit import record
from store.validation import InvalidValue
from venskab.cli.common import AppContext, TerminalProgress, UserError, pass_app


def register(group: click.Group) -> None:
    group.add_command(survey)
    group.add_command(mail)


def _surveys() -> dict[str, Survey]:
    try:
        return dict(default_surveys())
    except SurveyDefinitionError as exc:
        raise UserError(str(exc)) from exc


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)


@click.group()
def survey() -> None:
    """Survey definitions (surveys/*.yaml), results, the paired export and imports."""


@survey.command("list")
@pass_app
def survey_list(app: AppContext) -> None:
    """The survey definitions and the programme touchpoints that use them."""
    surveys = _surveys()
    used: dict[str, dict[str, int]] = {}
    for programme in app.programmes.values():
        for tp in programme.touchpoints:
            if tp.survey:
                by_programme = used.setdefault(tp.survey, {})
                by_programme[programme.id] = by_programme.get(programme.id, 0) + 1
    rows = []
    for survey_id, definition in sorted(surveys.items()):
        how = (
            "external"
            if definition.external_url
            else "web + sms"
            if definition.sms_conversation
            else "web"
        )
        rows.append(
            [
                survey_id,
                how,
                str(len(definition.questions)),
                ", ".join(f"{p} ({n})" for p, n in sorted(used.get(survey_id, {}).items())) or "-",
            ]
        )
    t = app.texts
    headers = [
        t.pgettext("column", "survey"),
        t.pgettext("column", "answered on"),
        t.pgettext("column", "questions"),
        t.pgettext("column", "used by (touchpoints)"),
    ]
    click.echo(_table(rows, headers))
    missing = sorted(set(used) - set(surveys))
    if missing:
        raise UserError(
            t.gettext(
                "programmes use surveys with no file in %(folder)s: %(surveys)s",
                folder=SURVEYS_DIR,
                surveys=", ".join(missing),
            )
        )


@survey.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path), required=True)
def survey_check(files: tuple[Path, ...]) -> None:
    """Validate survey files; report every problem with file, question and field."""
    problems: list[str] = []
    for path in files:
        try:
            loaded = load_survey(path)
        except SurveyDefinitionError as exc:
            problems.extend(str(exc).splitlines())
            continue
        click.echo(f"{path}: ok ({loaded.id}, {len(loaded.questions)} questions)")
    if problems:
        raise UserError("\n".join(problems))


@survey.command("results")
@click.option("--survey", "survey_id", help="Only this survey id.")
@pass_app
def survey_results(app: AppContext, survey_id: str | None) -> None:
    """Sent, opened, started and completed per survey and wave, and after which reminder."""
    app.upgrade()
    with app.transaction() as session:
        table = results(session, survey_id)
    t = app.texts
    if not table:
        click.echo(t.gettext("no survey invitations yet"))
        return
    rows = []
    for r in table:
        rate = f"{r.rate:.0%}" if r.rate is not None else "-"
        steps = (
            " ".join(f"{step}:{count}" for step, count in sorted(r.completed_at_step.items()))
            or "-"
        )
        rows.append(
            [
                r.survey_id,
                r.wave,
                str(r.sent),
                str(r.opened),
                str(r.started),
                str(r.completed),
                rate,
                steps,
                str(r.by_sms),
            ]
        )
    click.echo(
        _table(
            rows,
            [
                t.pgettext("column", "survey"),
                t.pgettext("column", "wave"),
                t.pgettext("column", "sent"),
                t.pgettext("column", "opened"),
                t.pgettext("column", "started"),
                t.pgettext("column", "completed"),
                t.pgettext("column", "rate"),
                t.pgettext("column", "completed after step"),
                t.pgettext("column", "by sms"),
            ],
        )
    )
    click.echo(
        t.gettext(
            "step 0 = the invitation, 1.. = the reminders in the programme's order (the last "
            "is the staff call)"
        )
    )


@survey.command("export")
@click.option("--survey", "survey_id", required=True, help="The survey id, e.g. parent-sample.")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The CSV file to write ('-' for standard output).",
)
@click.option("--with-text", is_flag=True, help="Include free-text answers (they may name people).")
@pass_app
def survey_export(app: AppContext, survey_id: str, out: Path, with_text: bool) -> None:
    """Baseline, end and follow-up answers paired per match, under pseudonymous ids."""
    definition = _surveys().get(survey_id)
    if definition is None:
        raise UserError(
            app.texts.gettext(
                "there is no survey %(survey)r in %(folder)s", survey=survey_id, folder=SURVEYS_DIR
            )
        )
    app.upgrade()
    with app.transaction() as session:
        header, rows = paired_rows(
            session,
            secret_for(session),
            definition,
            with_text=with_text,
            zone=app.settings.timezone,
        )
        # Who exported what is in the audit log (ids and counts, never the answers).
        record(
            session,
            "cli",
            "survey.export",
            "survey",
            None,
            survey=survey_id,
            respondents=len(rows),
            with_text=with_text,
        )
    if str(out) == "-":
        write_csv(header, rows, sys.stdout)
        return
    progress = TerminalProgress(
        texts=app.texts
    )  # a bar on a terminal for a few thousand respondents
    try:
        with out.open("w", encoding="utf-8", newline="") as handle:
            write_csv(header, progress.track("writing", rows), handle)
    finally:
        progress.close()
    click.echo(
        app.texts.ngettext(
            "wrote %(num)d respondent to %(file)s",
            "wrote %(num)d respondents to %(file)s",
            len(rows),
            file=out,
        )
    )


@survey.command("import-completions")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--survey", "survey_id", help="Only accept tokens of this survey.")
@pass_app
def survey_import(app: AppContext, file: Path, survey_id: str | None) -> None:
    """Mark surveys completed from an external survey tool's CSV (a 'token' column, optionally
    'completed_at' and one column per question id)."""
    t = app.texts
    try:
        table = read_table(file.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise UserError(t.gettext("%(file)s: save the file as UTF-8", file=file)) from exc
    except CompletionImportError as exc:
        raise UserError(f"{file}: {exc.text(t)}") from exc
    app.upgrade()
    try:
        with app.transaction() as session:
            stats = import_completions(
                session,
                table,
                default_surveys(),
                app.now(),
                survey_id=survey_id,
                zone=app.settings.timezone,
            )
    except CompletionImportError as exc:
        raise UserError(f"{file}: {exc.text(t)}") from exc
    parts = [
        t.gettext(
            "%(completed)d completed, %(already)d already completed, %(answers)d answers stored",
            completed=stats.completed,
            already=stats.already,
            answers=stats.answers,
        )
    ]
    if stats.ignored_values:
        parts.append(t.gettext("%(num)d values that did not fit ignored", num=stats.ignored_values))
    if stats.other_survey:
        parts.append(t.gettext("%(num)d for other surveys skipped", num=stats.other_survey))
    click.echo(", ".join(parts))
    if stats.unknown:
        rows = ", ".join(str(n) for n in stats.unknown_rows[:20])
        click.echo(
            t.gettext(
                "%(num)d rows with an unknown token (rows %(rows)s)", num=stats.unknown, rows=rows
            ),
            err=True,
        )


@click.group()
def mail() -> None:
    """Email delivery problems reported after sending."""


@mail.command("bounce")
@click.argument("addresses", nargs=-1)
@click.option(
    "--dsn",
    "dsn",
    type=click.File("rb"),
    help="Read the failed recipients from a bounce message (RFC 3464); '-' for stdin.",
)
@pass_app
def mail_bounce(app: AppContext, addresses: tuple[str, ...], dsn: object) -> None:
    """Stop using email addresses that bounced: the people's matches move to another channel
    and staff are told. Give addresses, or pipe a bounce message in with --dsn -."""
    found = list(addresses)
    if dsn is not None:
        found += bounced_addresses(dsn.read())  # type: ignore[attr-defined]
    if not found:
        raise UserError(
            app.texts.gettext("give one or more addresses, or a bounce message with --dsn")
        )
    app.upgrade()
    with app.transaction() as session:
        for address in found:
            try:
                count = mark_bounced(session, address, app.now())
            except InvalidValue as exc:
                raise UserError(f"{address!r}: {exc}") from exc
            if count:
                click.echo(
                    app.texts.ngettext(
                        "%(address)s: marked as bouncing (%(num)d person)",
                        "%(address)s: marked as bouncing (%(num)d people)",
                        count,
                        address=address,
                    )
                )
            else:
                click.echo(
                    app.texts.gettext("%(address)s: no one has this address", address=address)
                )
