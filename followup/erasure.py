"""Erasing a person's data (GDPR article 17); the kinds of person are those of
:mod:`followup.people`.

:func:`erase_person` removes the personal data and keeps what the organisation needs for its
statistics (counts, dates, statuses):

- names become ``"erased"``; phone, email, Telegram chat id and the organisation's ref are
  cleared;
- free text is cleared: check-in texts, visit notes and greetings to the parent (text and
  photo: :mod:`followup.moments`) of the person's matches (a family, a child), the text of
  messages sent to them or naming them, staff notes on the matches' escalations and tasks, the
  end reason and pause reasons, and free text in escalation evidence;
- rows that exist only for that person are deleted: their survey answers and SMS survey
  conversations, sparring RSVPs, the bot's state for their chat, and a contact's link to the
  matches (so that nothing more is planned for them);
- a family's household members (first names, birth years, certificates' dates) are deleted,
  and the titles of the waiting-list and certificate tasks about a family or a child cleared;
  a family or child still on the waiting list leaves it (``left``), and a parent's referrals
  lose their link to the parent (no more waiting notes); a family's calendar feeds and a
  family's or staff member's unused invitation links are deleted;
- audit entries stay: they hold ids and actions, never personal data, and say what was done;
- messages still planned for the person are cancelled (for a family or a child: every message
  still planned in their matches, which would name them).

A family, a child or a staff member can only be erased when their matches have ended: an
active match needs its people (end it, or assign another staff member, first).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from followup import moments
from followup.escalations import RULES
from followup.people import (
    AUDIENCES,
    ENTITIES,
    ERASED,
    RECIPIENT_ERASED,
    SAFE_EVIDENCE_KEYS,
    PersonError,
    bot_state_of,
    child_voice_survey_ids,
    get_person,
    matches_of,
    tasks_about,
)
from scheduler import outbox
from scheduler.i18n import N_
from store.audit import record
from store.models import (
    CalendarFeed,
    CheckIn,
    Escalation,
    HouseholdMember,
    InviteToken,
    Match,
    MatchNote,
    MatchPause,
    MatchStatus,
    OutboxMessage,
    Referral,
    SparringRSVP,
    StaffCredential,
    StaffSession,
    SurveyConversation,
    SurveyInvitation,
    SurveyResponse,
    Task,
    Visit,
    WaitStatus,
    match_contact,
)


def _erase_answers(session: Session, *where: Any, now: datetime) -> int:
    """Delete the answers of the survey invitations matching ``where`` and close their links."""
    invitations = select(SurveyInvitation.id).where(*where)
    deleted = _count(
        session.execute(delete(SurveyResponse).where(SurveyResponse.invitation_id.in_(invitations)))
    )
    session.execute(
        update(SurveyInvitation)
        .where(*where, SurveyInvitation.expires_at > now)
        .values(expires_at=now)
    )
    return deleted


def erase_person(
    session: Session, kind: str, person_id: int, actor: str, *, now: datetime
) -> dict[str, Any]:
    """Erase one person's data (see the module docstring). Returns counts of what was done;
    records an audit entry holding only those counts."""
    person = get_person(session, kind, person_id)
    matches = matches_of(session, kind, person)
    running = [m.id for m in matches if m.status != MatchStatus.ENDED]
    if running and kind != "contact":
        listed = ", ".join(str(i) for i in running)
        message = (
            N_(
                "%(kind)s %(id)d has matches that have not ended (%(matches)s): assign another "
                "staff member (re-import the matches file with another staff_ref), then erase"
            )
            if kind == "staff"
            else N_(
                "%(kind)s %(id)d has matches that have not ended (%(matches)s): end them "
                "first (venskab match end ID --by ...), then erase"
            )
        )
        raise PersonError(message, kind=kind, id=person_id, matches=listed)
    ids = [m.id for m in matches]
    summary: dict[str, Any] = {"kind": kind, "id": person_id, "matches": len(ids)}
    chat = getattr(person, "telegram_chat_id", None)
    if chat is not None:
        # What the bot remembers for the chat may hold a half-written message.
        state = bot_state_of(session, chat)
        for row in state:
            session.delete(row)
        summary["bot_state_deleted"] = len(state)
    if kind in ("family", "staff"):
        # An unused link would connect a chat to the erased record.
        summary["invites_deleted"] = _count(
            session.execute(
                delete(InviteToken).where(
                    InviteToken.kind == kind, InviteToken.subject_id == person.id
                )
            )
        )
    if kind == "family":
        _erase_fields(
            person,
            name=ERASED,
            contact_name=ERASED,
            phone=None,
            email=None,
            telegram_chat_id=None,
            external_ref=None,
            phone_failed=False,
            email_failed=False,
            telegram_blocked=False,
        )
        summary |= clear_match_text(session, ids, now)
        summary["child_voice_answers_deleted"] = _erase_answers(
            session, SurveyInvitation.volunteer_family_id == person.id, now=now
        )
        summary["sparring_rsvps_deleted"] = _count(
            session.execute(
                delete(SparringRSVP).where(SparringRSVP.volunteer_family_id == person.id)
            )
        )
        # Its place on the waiting list ends; its household (names, birth years, the
        # certificates' dates) goes, and the tasks about them no longer name them.
        summary["waiting_tasks_cleared"] = _clear_task_titles(session, kind, person.id)
        summary["household_members_deleted"] = _count(
            session.execute(
                delete(HouseholdMember).where(HouseholdMember.volunteer_family_id == person.id)
            )
        )
        if person.status is not None and person.status != WaitStatus.MATCHED:
            person.status, person.status_since = WaitStatus.LEFT, now.date()
        # The family's calendar feed would go on showing the child's visits: its address goes.
        summary["calendar_feeds_deleted"] = _count(
            session.execute(
                delete(CalendarFeed).where(CalendarFeed.volunteer_family_id == person.id)
            )
        )
    elif kind == "child":
        _erase_fields(person, first_name=ERASED, birth_year=None)
        summary |= clear_match_text(session, ids, now)
        summary["waiting_tasks_cleared"] = _clear_task_titles(session, kind, person.id)
        # A child still waiting leaves the waiting list: nothing more is sent about them.
        session.execute(
            update(Referral)
            .where(Referral.child_id == person.id, Referral.status != WaitStatus.MATCHED)
            .values(status=WaitStatus.LEFT, status_since=now.date())
        )
        summary["child_voice_answers_deleted"] = _erase_answers(
            session,
            SurveyInvitation.match_id.in_(ids),
            SurveyInvitation.survey_id.in_(child_voice_survey_ids()),
            now=now,
        )
    elif kind == "contact":
        _erase_fields(
            person,
            name=ERASED,
            phone=None,
            email=None,
            external_ref=None,
            phone_failed=False,
            email_failed=False,
            opted_out=True,
            opted_out_at=person.opted_out_at or now,
            photo_consent_on=None,
        )
        summary["survey_responses_deleted"] = _erase_answers(
            session, SurveyInvitation.contact_person_id == person.id, now=now
        )
        summary["escalations_cleared"] = _scrub_escalations(session, ids)
        summary["sms_surveys_deleted"] = _count(
            session.execute(
                delete(SurveyConversation).where(SurveyConversation.contact_person_id == person.id)
            )
        )
        session.execute(delete(match_contact).where(match_contact.c.contact_person_id == person.id))
        # A referral keeps its child, without the erased parent: no more waiting notes to them.
        summary["referrals_unlinked"] = _count(
            session.execute(
                update(Referral)
                .where(Referral.contact_person_id == person.id)
                .values(contact_person_id=None)
            )
        )
        for match in matches:
            if match.status != MatchStatus.ENDED:
                match.plan_version = (match.plan_version or 1) + 1
        summary["matches_unlinked"] = len(ids)
    else:
        texts = [t for t in (person.name, person.email, person.phone) if t and len(t) >= 3]
        _erase_fields(
            person,
            name=ERASED,
            phone=None,
            email=None,
            telegram_chat_id=None,
            external_ref=None,
            active=False,
        )
        summary["messages_cleared"] = _clear_messages_naming(session, ids, texts)
        # Their web app password and sessions go with them.
        session.execute(delete(StaffSession).where(StaffSession.staff_id == person.id))
        session.execute(delete(StaffCredential).where(StaffCredential.staff_id == person.id))
    if kind in AUDIENCES:
        summary["messages_cleared"] = summary.get("messages_cleared", 0) + _clear_messages(
            session,
            (OutboxMessage.audience == AUDIENCES[kind]) & (OutboxMessage.recipient_id == person.id),
            also_errors=True,
        )
        summary["messages_cancelled"] = summary.get("messages_cancelled", 0) + _cancel_planned(
            session,
            (OutboxMessage.audience == AUDIENCES[kind]) & (OutboxMessage.recipient_id == person.id),
        )
    session.flush()
    record(
        session,
        actor,
        "person.erase",
        ENTITIES[kind],
        person_id,
        **{k: v for k, v in summary.items() if k not in {"kind", "id"}},
    )
    session.flush()
    session.expire_all()
    return summary


def _clear_task_titles(session: Session, kind: str, person_id: int) -> int:
    tasks = tasks_about(session, kind, person_id)
    for task in tasks:
        task.title = ERASED
        task.outcome_note = None
    return len(tasks)


def _erase_fields(person: Any, **values: Any) -> None:
    for name, value in values.items():
        setattr(person, name, value)


def _count(result: Any) -> int:
    return int(result.rowcount or 0)


def clear_match_text(session: Session, ids: list[int], now: datetime) -> dict[str, int]:
    """Free text of a family's or a child's matches: it is about them."""
    if not ids:
        return {}
    in_matches = OutboxMessage.match_id.in_(ids)
    counts = {
        "checkin_texts_cleared": _count(
            session.execute(
                update(CheckIn)
                .where(CheckIn.match_id.in_(ids), CheckIn.text.is_not(None))
                .values(text=None)
            )
        ),
        "visit_notes_cleared": _count(
            session.execute(
                update(Visit)
                .where(Visit.match_id.in_(ids), Visit.note.is_not(None))
                .values(note=None)
            )
        ),
        # Every message of the match names the child and the family.
        "messages_cleared": _clear_messages(session, in_matches),
        "messages_cancelled": _cancel_planned(session, in_matches),
        "escalations_cleared": _scrub_escalations(session, ids),
        "task_notes_cleared": _count(
            session.execute(
                update(Task)
                .where(Task.match_id.in_(ids), Task.outcome_note.is_not(None))
                .values(outcome_note=None)
            )
        ),
    }
    # The family's greetings to the parent: their text and photos.
    counts["moments_cleared"] = moments.erase(session, ids)
    counts["match_notes_cleared"] = _count(
        session.execute(
            update(MatchNote)
            .where(MatchNote.match_id.in_(ids), MatchNote.text.is_not(None))
            .values(text=None)
        )
    )
    session.execute(update(Match).where(Match.id.in_(ids)).values(end_reason=None))
    session.execute(update(MatchPause).where(MatchPause.match_id.in_(ids)).values(reason=""))
    return counts


def _clear_messages(session: Session, condition: Any, also_errors: bool = False) -> int:
    """Clear the text of messages (kept: channel, status, dates). Returns how many had text."""
    # A provider's error may quote the address.
    return outbox.clear_text(session, condition, RECIPIENT_ERASED if also_errors else None)


def _cancel_planned(session: Session, condition: Any) -> int:
    return outbox.cancel_planned_where(session, condition, RECIPIENT_ERASED)


def _clear_messages_naming(session: Session, ids: list[int], texts: list[str]) -> int:
    """Clear the text of the matches' messages that name a staff member or give their address."""
    if not ids or not texts:
        return 0
    named = [
        row_id
        for row_id, body, subject in session.execute(
            select(OutboxMessage.id, OutboxMessage.body, OutboxMessage.subject).where(
                OutboxMessage.match_id.in_(ids)
            )
        )
        if any(t in (body or "") or t in (subject or "") for t in texts)
    ]
    cleared = 0
    for start in range(0, len(named), 500):
        cleared += _clear_messages(session, OutboxMessage.id.in_(named[start : start + 500]))
    return cleared


def _scrub_escalations(session: Session, ids: list[int]) -> int:
    """Staff notes and free text in escalations of the matches; rule, dates and status stay."""
    if not ids:
        return 0
    count = 0
    for escalation in session.scalars(select(Escalation).where(Escalation.match_id.in_(ids))):
        evidence = [
            {k: v for k, v in item.items() if not isinstance(v, str) or k in SAFE_EVIDENCE_KEYS}
            if isinstance(item, dict)
            else None
            for item in escalation.evidence or []
        ]
        summary = RULES.get(escalation.rule, escalation.rule)[:300]
        if (evidence, summary, escalation.resolution_note) != (
            escalation.evidence,
            escalation.summary,
            None,
        ):
            escalation.evidence = evidence
            escalation.summary = summary
            escalation.resolution_note = None
            count += 1
    return count
