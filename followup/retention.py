"""Retention: what is about a match is not kept for ever after the match ends.

Defaults (configurable, see :class:`RetentionPolicy`):

- **free text**, 12 months after a match ends: check-in texts, visit notes, the text of messages
  sent in the match, free text in its escalations (what families and parents wrote to staff),
  staff notes on its tasks, the end reason and pause reasons, and free-text survey answers;
- **a volunteer family's greetings to the parent** (:mod:`followup.moments`): an unsent draft
  after a day, a photo when the parent's link to it expires (30 days after sending), the text
  with the match's other free text;
- **contact details**, 3 months after a person's last match ends: a volunteer family's and a
  contact person's phone, email and Telegram chat (with what the bot remembers of it),
  unless the person is in another match that has not ended;
- **people who never matched** (:mod:`followup.retention_waiting`): a family that left the
  waiting list, a parent whose referrals are all closed: their waiting-list messages' text and
  their contact details, by the same limits counted from when they left.

The report names the matches and people affected by their refs (ids where there is no ref),
never by name.

Counts, dates, statuses and scale answers stay: the organisation's statistics need them. Run
nightly by ``venskab run`` and by hand with ``venskab retention [--dry-run]``; a dry run does
the same work inside a savepoint and rolls it back, so what it reports is exactly what would go.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from followup import moments, retention_waiting
from followup.erasure import clear_match_text
from followup.people import bot_state_of
from followup.survey_defs import Survey
from scheduler import i18n
from store.audit import record
from store.models import (
    CheckIn,
    ContactPerson,
    Match,
    MatchNote,
    MatchStatus,
    OutboxMessage,
    SurveyInvitation,
    SurveyResponse,
    Visit,
    VolunteerFamily,
    WebhookReceipt,
    match_contact,
)

RECEIPTS_KEPT = timedelta(days=30)  # providers retry within hours; ids carry no personal data


@dataclass(frozen=True)
class RetentionPolicy:
    free_text_months: int = 12
    contact_months: int = 3


AFFECTED = {  # the report's lines naming who is affected, by their refs
    "matches": i18n.N_("matches: %(refs)s"),
    "families": i18n.N_("volunteer families: %(refs)s"),
    "contacts": i18n.N_("parents and contacts: %(refs)s"),
}
MODELS: dict[str, Any] = {"matches": Match, "families": VolunteerFamily, "contacts": ContactPerson}


@dataclass
class RetentionReport:
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    affected: dict[str, set[str]] = field(default_factory=dict)  # matches, families, contacts

    def add(self, found: Mapping[str, int]) -> None:
        for key, value in found.items():
            self.counts[key] = self.counts.get(key, 0) + value

    def touch(self, session: Session, kind: str, ids: list[int]) -> None:
        """Name the ``kind`` rows with ``ids`` as affected, by their refs (or ``#id``)."""
        model = MODELS[kind]
        for start in range(0, len(ids), 500):
            for row_id, ref in session.execute(
                select(model.id, model.external_ref).where(model.id.in_(ids[start : start + 500]))
            ):
                self.affected.setdefault(kind, set()).add(ref or f"#{row_id}")

    @property
    def total(self) -> int:
        return sum(v for k, v in self.counts.items() if k != "matches")

    def describe(self, texts: i18n.Texts | None = None) -> str:
        """What was cleared (the counts by table), in ``texts``' language (English for a log)."""
        texts = texts or i18n.texts(i18n.SOURCE_LANGUAGE)
        shown = {k: v for k, v in sorted(self.counts.items()) if v}
        if not shown:
            return texts.gettext("retention: nothing is due")
        counts = ", ".join(f"{k} {v}" for k, v in shown.items())
        if self.dry_run:
            head = texts.gettext("retention would clear: %(counts)s", counts=counts)
        else:
            head = texts.gettext("retention cleared: %(counts)s", counts=counts)
        lines = [head] + [
            "  " + texts.gettext(message, refs=", ".join(sorted(self.affected[kind])))
            for kind, message in AFFECTED.items()
            if self.affected.get(kind)
        ]
        return "\n".join(lines)


def run_retention(
    session: Session,
    now: datetime,
    today: date,
    surveys: Mapping[str, Survey],
    policy: RetentionPolicy = RetentionPolicy(),
    *,
    dry_run: bool = False,
) -> RetentionReport:
    """Clear what is due on ``today`` (the organisation's local date); a dry run changes nothing."""
    report = RetentionReport(dry_run=dry_run)
    savepoint = session.begin_nested()
    try:
        _free_text(
            session, now, today - relativedelta(months=policy.free_text_months), surveys, report
        )
        _contact_details(session, today - relativedelta(months=policy.contact_months), report)
        for clear, months in (
            (retention_waiting.clear_texts, policy.free_text_months),
            (retention_waiting.clear_details, policy.contact_months),
        ):
            counts, whom = clear(session, today - relativedelta(months=months))
            report.add(counts)
            for kind, ids in whom.items():
                report.touch(session, kind, ids)
        # Greetings' drafts after a day, their photos when the parent's link expires.
        report.add(moments.expire(session, now))
        report.add(
            {
                "webhook_receipts": _count(
                    session.execute(
                        delete(WebhookReceipt).where(
                            WebhookReceipt.received_at < now - RECEIPTS_KEPT
                        )
                    )
                )
            }
        )
        session.flush()
    except BaseException:
        savepoint.rollback()
        raise
    if dry_run:
        savepoint.rollback()
        return report
    savepoint.commit()
    if report.total:
        record(session, "system", "retention.run", "retention", None, **report.counts)
    return report


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _free_text(
    session: Session,
    now: datetime,
    ended_by: date,
    surveys: Mapping[str, Survey],
    report: RetentionReport,
) -> None:
    ids = list(
        session.scalars(
            select(Match.id).where(Match.status == MatchStatus.ENDED, Match.end_date <= ended_by)
        )
    )
    if not ids:
        return
    report.touch(session, "matches", _with_text(session, ids))
    found = clear_match_text(session, ids, now)
    found.pop("messages_cancelled", None)
    report.add(found)
    text_questions = {
        (survey_id, q.id)
        for survey_id, survey in surveys.items()
        for q in survey.questions
        if q.type == "text"
    }
    survey_texts = 0
    rows = session.execute(
        select(SurveyResponse, SurveyInvitation.survey_id)
        .join(SurveyInvitation, SurveyInvitation.id == SurveyResponse.invitation_id)
        .where(SurveyInvitation.match_id.in_(ids), SurveyResponse.value.is_not(None))
    ).all()
    for response, survey_id in rows:
        if (survey_id, response.question_id) in text_questions:
            session.delete(response)
            survey_texts += 1
    report.add({"survey_texts": survey_texts})


def _with_text(session: Session, ids: list[int]) -> list[int]:
    """The matches among ``ids`` that still hold free text (their end reason, check-ins, visit
    notes, messages or staff notes)."""
    holding = set(
        session.scalars(select(Match.id).where(Match.id.in_(ids), Match.end_reason.is_not(None)))
    )
    for match_id, text in (
        (CheckIn.match_id, CheckIn.text),
        (Visit.match_id, Visit.note),
        (OutboxMessage.match_id, OutboxMessage.body),
        (MatchNote.match_id, MatchNote.text),
    ):
        holding |= set(
            session.scalars(select(match_id).where(match_id.in_(ids), text.is_not(None)).distinct())
        )
    return sorted(i for i in holding if i is not None)


def _contact_details(session: Session, ended_by: date, report: RetentionReport) -> None:
    # Per person: how many of their matches have not ended, and when the last one ended.
    running = func.sum(case((Match.status != MatchStatus.ENDED, 1), else_=0))
    families = [
        family_id
        for family_id, live, last in session.execute(
            select(Match.volunteer_family_id, running, func.max(Match.end_date)).group_by(
                Match.volunteer_family_id
            )
        )
        if not live and last is not None and last <= ended_by
    ]
    contacts = [
        contact_id
        for contact_id, live, last in session.execute(
            select(match_contact.c.contact_person_id, running, func.max(Match.end_date))
            .join(Match, Match.id == match_contact.c.match_id)
            .group_by(match_contact.c.contact_person_id)
        )
        if not live and last is not None and last <= ended_by
    ]
    holding = retention_waiting.holding_details(session, families, contacts)
    report.touch(session, "families", holding[0])
    report.touch(session, "contacts", holding[1])
    chats = list(
        session.scalars(
            select(VolunteerFamily.telegram_chat_id).where(
                VolunteerFamily.id.in_(families), VolunteerFamily.telegram_chat_id.is_not(None)
            )
        )
    )
    state = [row for chat in chats if chat is not None for row in bot_state_of(session, chat)]
    for row in state:
        session.delete(row)  # what the bot remembers of the chat goes with the chat
    report.add({"bot_state": len(state)})
    report.add(
        {
            "family_contact_details": _count(
                session.execute(
                    update(VolunteerFamily)
                    .where(
                        VolunteerFamily.id.in_(families),
                        or_(
                            VolunteerFamily.phone.is_not(None),
                            VolunteerFamily.email.is_not(None),
                            VolunteerFamily.telegram_chat_id.is_not(None),
                        ),
                    )
                    .values(phone=None, email=None, telegram_chat_id=None)
                )
            )
            if families
            else 0,
            "contact_person_details": _count(
                session.execute(
                    update(ContactPerson)
                    .where(
                        ContactPerson.id.in_(contacts),
                        or_(ContactPerson.phone.is_not(None), ContactPerson.email.is_not(None)),
                    )
                    .values(phone=None, email=None)
                )
            )
            if contacts
            else 0,
        }
    )
