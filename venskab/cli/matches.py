"""Matches: ``match list|show``; the changes to a match (``match edit|pause|resume|end|
rematch``) are in :mod:`venskab.cli.match_changes`."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from followup.status_words import match_status
from followup.yearplan import fmt_weekday
from scheduler import i18n
from store.models import Cadence, Match, MatchStatus, OutboxMessage, OutboxStatus, Task
from store.validation import strip_controls
from venskab.cli.common import ROW_ID, AppContext, pass_app
from venskab.cli.match_changes import CHANGES
from venskab.cli.match_common import day_text, load_match, text_table

STATUSES = [s.value for s in MatchStatus]


def register(group: click.Group) -> None:
    group.add_command(match)


def _cadence(texts: i18n.Texts, cadence: Cadence) -> str:
    if cadence == Cadence.BIWEEKLY:
        return texts.pgettext("cadence", "every other week")
    if cadence == Cadence.TWO_THREE_MONTHLY:
        return texts.pgettext("cadence", "2-3 times a month")
    return texts.pgettext("cadence", "every week")


def _staff(match: Match) -> str:
    """The staff member, with the phone number colleagues reach them on."""
    if match.staff is None:
        return "-"
    phone = i18n.phone(match.staff.phone)
    return f"{match.staff.name} ({phone})" if phone else match.staff.name


@click.group()
def match() -> None:
    """List, show, edit, pause, resume and end matches."""


@match.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only matches with this status.")
@click.option("--programme", "programme_slug", help="Only matches of this programme (its id).")
@pass_app
def match_list(app: AppContext, status: str | None, programme_slug: str | None) -> None:
    """One line per match."""
    with app.transaction() as session:
        query = (
            select(Match)
            .order_by(Match.id)
            .options(
                selectinload(Match.programme),
                selectinload(Match.child),
                selectinload(Match.volunteer_family),
                selectinload(Match.staff),
            )
        )
        if status:
            query = query.where(Match.status == MatchStatus(status))
        texts, locale = app.texts, app.locale
        rows = []
        for m in session.scalars(query):
            if programme_slug and m.programme.slug != programme_slug:
                continue
            rows.append(
                [
                    str(m.id),
                    m.programme.slug,
                    m.child.first_name,
                    m.volunteer_family.name,
                    day_text(m.start_date, locale),
                    fmt_weekday(m.visit_weekday, locale),
                    match_status(texts, m.status),
                    _staff(m),
                ]
            )
    if not rows:
        click.echo(texts.gettext("no matches"))
        return
    headers = [
        texts.pgettext("column", "id"),
        texts.pgettext("column", "programme"),
        texts.pgettext("column", "child"),
        texts.pgettext("column", "volunteer family"),
        texts.pgettext("column", "start"),
        texts.pgettext("column", "weekday"),
        texts.pgettext("column", "status"),
        texts.pgettext("column", "staff"),
    ]
    click.echo(text_table(rows, headers))


@match.command("show")
@click.argument("match_id", type=ROW_ID)
@pass_app
def match_show(app: AppContext, match_id: int) -> None:
    """Everything about one match, without the family's or the parents' contact details."""
    texts, locale = app.texts, app.locale
    with app.transaction() as session:
        m = load_match(session, match_id)
        born = (
            texts.gettext("born %(year)s", year=m.child.birth_year)
            if m.child.birth_year
            else texts.gettext("age unknown")
        )
        click.echo(
            texts.gettext(
                "Match %(id)s: %(child)s (%(born)s) with %(family)s",
                id=m.id,
                child=m.child.first_name,
                born=born,
                family=m.volunteer_family.name,
            )
        )
        weekday = fmt_weekday(m.visit_weekday, locale)
        visits = (
            texts.gettext(
                "%(cadence)s on %(weekday)s at %(time)s",
                cadence=_cadence(texts, m.cadence),
                weekday=weekday,
                time=m.visit_time.strftime("%H:%M"),
            )
            if m.visit_time
            else texts.gettext(
                "%(cadence)s on %(weekday)s", cadence=_cadence(texts, m.cadence), weekday=weekday
            )
        )
        fields = [
            (texts.pgettext("match field", "programme"), m.programme.name),
            (texts.pgettext("match field", "status"), match_status(texts, m.status)),
            (texts.pgettext("match field", "start"), day_text(m.start_date, locale)),
            (texts.pgettext("match field", "visits"), visits),
            (texts.pgettext("match field", "staff"), _staff(m)),
            (
                texts.pgettext("match field", "contacts"),
                ", ".join(c.name for c in m.contacts) or "-",
            ),
            (
                texts.pgettext("match field", "Telegram"),
                texts.gettext("connected")
                if m.volunteer_family.telegram_chat_id
                else texts.gettext("not connected"),
            ),
        ]
        for p in m.pauses:
            period = (
                texts.gettext(
                    "%(first)s to %(back)s",
                    first=day_text(p.start_date, locale),
                    back=day_text(p.end_date, locale),
                )
                if p.end_date
                else texts.gettext("from %(first)s, open", first=day_text(p.start_date, locale))
            )
            fields.append((texts.pgettext("match field", "pause"), period))
        if m.end_date:
            ended = texts.gettext(
                "%(day)s by %(who)s",
                day=day_text(m.end_date, locale),
                who=m.ended_by.value if m.ended_by else "?",
            )
            why = "; ".join(
                r for r in (m.end_reason_code.value if m.end_reason_code else "", m.end_reason) if r
            )
            if why:
                ended = f"{ended} ({why})"
            fields.append((texts.pgettext("match field", "ended"), ended))
        if m.previous_match_id:
            fields.append(
                (
                    texts.pgettext("match field", "re-match of"),
                    texts.gettext("match %(id)s", id=m.previous_match_id),
                )
            )
        follower = session.scalars(select(Match.id).where(Match.previous_match_id == m.id)).first()
        if follower is not None:
            fields.append(
                (
                    texts.pgettext("match field", "re-matched as"),
                    texts.gettext("match %(id)s", id=follower),
                )
            )
        counts = dict(
            session.execute(
                select(OutboxMessage.status, func.count())
                .where(OutboxMessage.match_id == m.id)
                .group_by(OutboxMessage.status)
            ).all()
        )
        if counts:
            fields.append(
                (
                    texts.pgettext("match field", "messages"),
                    ", ".join(f"{_outbox_status(texts, k)} {v}" for k, v in sorted(counts.items())),
                )
            )
        width = max(len(label) for label, _ in fields) + 2
        for label, value in fields:
            click.echo(f"  {label.ljust(width)}{strip_controls(value)}")
        tasks = session.scalars(
            select(Task).where(Task.match_id == m.id).order_by(Task.due_at)
        ).all()
        open_tasks = [t for t in tasks if t.status.value == "open"]
        if open_tasks:
            click.echo("  " + texts.pgettext("match field", "open tasks"))
            zone = ZoneInfo(app.settings.timezone)
            for t in open_tasks[:10]:
                click.echo(f"    {day_text(t.due_at.astimezone(zone).date(), locale)}  {t.title}")


def _outbox_status(texts: i18n.Texts, status: OutboxStatus) -> str:
    """A message's state in the outbox, as staff read it (the word, not the code)."""
    words = {
        OutboxStatus.PLANNED: texts.pgettext("outbox status", "planned"),
        OutboxStatus.SENDING: texts.pgettext("outbox status", "sending"),
        OutboxStatus.SENT: texts.pgettext("outbox status", "sent"),
        OutboxStatus.DELIVERED: texts.pgettext("outbox status", "delivered"),
        OutboxStatus.FAILED: texts.pgettext("outbox status", "failed"),
        OutboxStatus.EXPIRED: texts.pgettext("outbox status", "expired"),
        OutboxStatus.CANCELLED: texts.pgettext("outbox status", "cancelled"),
        OutboxStatus.UNKNOWN: texts.pgettext("outbox status", "unknown"),
    }
    return words.get(status, status.value)


for _command in CHANGES:
    match.add_command(_command)
