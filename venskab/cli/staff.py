"""Staff follow-up on the command line: ``escalations``, ``ack``, ``snooze``, ``resolve``,
``tasks``, ``task``; and ``staff passwd`` (a staff member's password for the web app)."""

from __future__ import annotations

import sys
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.alerts import AckError, acknowledge, resolve, snooze
from followup.escalations import next_step, rule_title
from followup.resolutions import OUTCOMES as CASE_OUTCOMES
from followup.resolutions import outcome_label
from followup.staff_auth import PasswordError, set_password
from followup.tasks import OUTCOMES, TaskError, complete, open_tasks
from followup.yearplan import fmt_date
from store.models import Escalation, EscalationStatus, Match, ResolutionOutcome, Severity, Staff
from venskab.cli.common import (
    ROW_ID,
    AppContext,
    UserError,
    parse_when,
    pass_app,
    row_id,
    staff_texts,
)


def register(group: click.Group) -> None:
    group.add_command(escalations)
    group.add_command(ack)
    group.add_command(snooze_command)
    group.add_command(resolve_command)
    group.add_command(tasks)
    group.add_command(task)
    group.add_command(staff_group)


def _local(moment: datetime, app: AppContext) -> str:
    """A moment in the configured zone, as staff read it: "9. mar. 2026 19:00"."""
    local = moment.astimezone(ZoneInfo(app.settings.timezone))
    return f"{fmt_date(local, app.locale, 'medium')} {local:%H:%M}"


def _state(app: AppContext, escalation: Escalation) -> str:
    texts = app.texts
    if escalation.snoozed_until is not None and escalation.snoozed_until > app.now():
        return texts.gettext("snoozed until %(when)s", when=_local(escalation.snoozed_until, app))
    if escalation.status == EscalationStatus.ACKNOWLEDGED:
        return texts.pgettext("case status", "acknowledged")
    if escalation.status == EscalationStatus.RESOLVED and escalation.resolution_outcome:
        outcome = outcome_label(texts, escalation.resolution_outcome)
        return texts.gettext("resolved: %(outcome)s", outcome=outcome)
    if escalation.status == EscalationStatus.RESOLVED:
        return texts.pgettext("case status", "resolved")
    return texts.pgettext("case status", "open")


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Also acknowledged and resolved ones.")
@pass_app
def escalations(app: AppContext, show_all: bool) -> None:
    """Open escalations, oldest first: what must reach staff."""
    with app.transaction() as session:
        query = select(Escalation).order_by(Escalation.created_at)
        if not show_all:
            query = query.where(Escalation.status == EscalationStatus.OPEN)
        rows = list(session.scalars(query))
        texts, locale = app.texts, app.locale
        if not rows:
            click.echo(
                texts.gettext("no open escalations") if not show_all else texts.gettext("no cases")
            )
            return
        for e in rows:
            state = _state(app, e)
            if e.severity == Severity.URGENT:
                state = texts.gettext("URGENT, %(state)s", state=state)
            title = rule_title(e.rule, locale)
            match = session.get(Match, e.match_id) if e.match_id else None
            who = f"{match.child.first_name} & {match.volunteer_family.name}" if match else "-"
            sent = (
                texts.ngettext(
                    "sent to staff %(num)d time", "sent to staff %(num)d times", e.push_count
                )
                if e.push_count
                else texts.gettext("not sent to anyone yet")
            )
            counts = ", ".join(
                (texts.ngettext("%(num)d report", "%(num)d reports", e.evidence_count), sent)
            )
            click.echo(
                f"#{e.id:<4} {_local(e.created_at, app)}  {state:<14} {who}: {title} ({counts})"
            )
            if e.status == EscalationStatus.RESOLVED and e.resolution_note:
                click.echo(f"       ✓ {e.resolution_note}")
            elif e.status != EscalationStatus.RESOLVED:
                click.echo(f"       → {next_step(e.rule, locale)}")


def _staff_id(app: AppContext, session: Session, staff: int | None) -> int | None:
    if staff is not None and session.get(Staff, staff) is None:
        raise UserError(app.texts.gettext("there is no staff member %(id)s", id=staff))
    return staff


@click.command()
@click.argument("escalation_id", type=ROW_ID)
@click.option("--staff", type=ROW_ID, help="The staff member acknowledging (their id).")
@pass_app
def ack(app: AppContext, escalation_id: int, staff: int | None) -> None:
    """Acknowledge an escalation: reminders and re-escalation stop."""
    with app.transaction() as session:
        try:
            acknowledge(
                session, escalation_id, _staff_id(app, session, staff), app.now(), via="cli"
            )
        except AckError as exc:
            raise UserError(exc) from exc
    click.echo(app.texts.gettext("case %(id)s acknowledged", id=escalation_id))


@click.command("snooze")
@click.argument("escalation_id", type=ROW_ID)
@click.option("--until", "until", required=True, help="When to hear of it again (e.g. 2026-03-12).")
@click.option("--staff", type=ROW_ID, help="The staff member snoozing it (their id).")
@pass_app
def snooze_command(app: AppContext, escalation_id: int, until: str, staff: int | None) -> None:
    """Snooze an escalation until a date: silent until then, then one reminder."""
    when = parse_when(until, app.settings.timezone)
    with app.transaction() as session:
        try:
            snooze(session, escalation_id, _staff_id(app, session, staff), when, app.now(), "cli")
        except AckError as exc:
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext(
            "case %(id)s snoozed until %(when)s", id=escalation_id, when=_local(when, app)
        )
    )


class _OutcomeOption(click.Option):
    """``--outcome``: its help names each outcome in the staff member's language."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        texts = staff_texts()
        each = "; ".join(f"{o.value}: {texts.gettext(words)}" for o, words in CASE_OUTCOMES.items())
        self.help = texts.gettext("How the case ended (%(outcomes)s).", outcomes=each)
        return super().get_help_record(ctx)


@click.command("resolve")
@click.argument("escalation_id", type=ROW_ID)
@click.option(
    "--outcome",
    cls=_OutcomeOption,
    required=True,
    type=click.Choice([o.value for o in CASE_OUTCOMES]),
)
@click.option("--note", default="", help="What was done, briefly (shown to colleagues).")
@click.option("--staff", type=ROW_ID, help="The staff member resolving it (their id).")
@pass_app
def resolve_command(
    app: AppContext, escalation_id: int, outcome: str, note: str, staff: int | None
) -> None:
    """Resolve an escalation with its outcome and, if wanted, a note."""
    how = ResolutionOutcome(outcome)
    with app.transaction() as session:
        try:
            resolve(session, escalation_id, _staff_id(app, session, staff), app.now(), note, how)
        except AckError as exc:
            raise UserError(exc) from exc
    click.echo(
        app.texts.gettext(
            "case %(id)s resolved: %(outcome)s",
            id=escalation_id,
            outcome=outcome_label(app.texts, how),
        )
    )


@click.command()
@click.option("--staff", type=ROW_ID, help="Only this staff member's tasks.")
@pass_app
def tasks(app: AppContext, staff: int | None) -> None:
    """Open staff tasks, by due date (overdue ones marked with !)."""
    now = app.now()
    with app.transaction() as session:
        rows = open_tasks(session, _staff_id(app, session, staff))
        texts = app.texts
        if not rows:
            click.echo(texts.gettext("no open tasks"))
            return
        for t in rows:
            mark = "!" if t.due_at < now else " "
            where = texts.gettext("match %(id)s", id=t.match_id) if t.match_id else "-"
            click.echo(f"#{t.id:<5}{mark} {_local(t.due_at, app)}  {where:<9} {t.title}")


@click.command()
@click.argument("task_id", type=ROW_ID)
@click.option("--outcome", required=True, type=click.Choice(list(OUTCOMES)))
@click.option("--note", default="", help="What happened.")
@click.option("--to", "to", help="For rescheduled: the new time (ISO, e.g. 2026-03-12T10:00).")
@pass_app
def task(app: AppContext, task_id: int, outcome: str, note: str, to: str | None) -> None:
    """Record a task's outcome: done, not reached (tries again tomorrow) or rescheduled."""
    when = parse_when(to, app.settings.timezone) if to else None
    with app.transaction() as session:
        try:
            complete(session, task_id, outcome, note, app.now(), reschedule_to=when)
        except TaskError as exc:
            raise UserError(exc) from exc
    click.echo(f"task {task_id}: {outcome}")


@click.group("staff")
def staff_group() -> None:
    """Staff members' access to the web app."""


@staff_group.command("passwd")
@click.argument("ref")
@pass_app
def passwd(app: AppContext, ref: str) -> None:
    """Set the web app password of the staff member REF (their ref, email or id).

    The password is asked for twice at the prompt, or read as one line from standard input
    (e.g. from a password manager); it is never an argument, so it stays out of the shell's
    history and the process list. Their open sessions end.
    """
    with app.transaction() as session:
        member = _staff_by_ref(app, session, ref)
        if sys.stdin.isatty():
            password = click.prompt(
                app.texts.gettext("New password for %(name)s", name=member.name),
                hide_input=True,
                confirmation_prompt=True,
            )
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            set_password(session, member, password, app.now(), actor="cli")
        except PasswordError as exc:
            raise UserError(exc) from exc
        name = member.name
    click.echo(app.texts.gettext("password set for %(name)s; their sessions have ended", name=name))


def _staff_by_ref(app: AppContext, session: Session, ref: str) -> Staff:
    ref = ref.strip()
    found = session.scalars(select(Staff).where(Staff.external_ref == ref)).first()
    if found is None and "@" in ref:
        found = session.scalars(select(Staff).where(Staff.email == ref.lower())).first()
    if found is None and (number := row_id(ref)) is not None:
        found = session.get(Staff, number)
    if found is None:
        raise UserError(
            app.texts.gettext("there is no staff member with ref %(ref)s", ref=repr(ref))
        )
    return found
