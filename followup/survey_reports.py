"""Reading surveys back: response counts per survey and wave, and the paired export.

- :func:`results` counts sent / opened / started / completed per survey and wave;
- :func:`paired_rows` pairs each respondent's baseline, end and follow-up answers per match
  under pseudonymous ids (an HMAC of the match id under the application secret): the VIVE
  evaluation could not pair them (004:635).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.survey_defs import Question, Survey, wave_order
from store.models import Match, SurveyConversation, SurveyInvitation, SurveyResponse
from store.validation import csv_cell

# -- results -----------------------------------------------------------------------------------


@dataclass
class WaveResult:
    survey_id: str
    wave: str
    invited: int = 0
    sent: int = 0
    opened: int = 0
    started: int = 0
    completed: int = 0
    by_sms: int = 0
    completed_at_step: Counter[int] = field(default_factory=Counter)

    @property
    def rate(self) -> float | None:
        return self.completed / self.sent if self.sent else None


def results(session: Session, survey_id: str | None = None) -> list[WaveResult]:
    """Per survey and wave: how many were sent, opened, started and completed, and after which
    step of the reminder ladder (0 = the invitation itself)."""
    query = select(SurveyInvitation)
    if survey_id is not None:
        query = query.where(SurveyInvitation.survey_id == survey_id)
    invitations = list(session.scalars(query))
    ids = [i.id for i in invitations]
    started: set[int] = set()
    sms_completed: set[int] = set()
    if ids:
        started = set(
            session.scalars(
                select(SurveyResponse.invitation_id).where(SurveyResponse.invitation_id.in_(ids))
            )
        )
        sms_completed = set(
            session.scalars(
                select(SurveyConversation.invitation_id).where(
                    SurveyConversation.invitation_id.in_(ids),
                    SurveyConversation.outcome == "completed",
                )
            )
        )
    table: dict[tuple[str, str], WaveResult] = {}
    for invitation in invitations:
        key = (invitation.survey_id, invitation.wave)
        result = table.setdefault(key, WaveResult(*key))
        result.invited += 1
        result.sent += invitation.sent_at is not None
        result.opened += invitation.opened_at is not None
        result.started += invitation.id in started or invitation.completed_at is not None
        if invitation.completed_at is not None:
            result.completed += 1
            result.completed_at_step[invitation.reminder_step or 0] += 1
            result.by_sms += invitation.id in sms_completed
    return sorted(table.values(), key=lambda r: (r.survey_id, wave_order(r.wave), r.wave))


# -- the paired export -------------------------------------------------------------------------


def pseudonym(secret: str, kind: str, number: int) -> str:
    """A stable pseudonymous id: the same match gives the same id in every export, and nobody
    without the application secret can turn it back into the match."""
    digest = hmac.new(secret.encode(), f"pseudonym:{kind}:{number}".encode(), hashlib.sha256)
    return digest.hexdigest()[:20]


def paired_rows(
    session: Session,
    secret: str,
    survey: Survey,
    *,
    with_text: bool = False,
    zone: str,
) -> tuple[list[str], list[dict[str, str]]]:
    """The header and one row per match and respondent: each wave's status, date and answers
    side by side. Free-text answers only with ``with_text`` (they may name people)."""
    invitations = list(
        session.scalars(
            select(SurveyInvitation)
            .where(SurveyInvitation.survey_id == survey.id)
            .order_by(SurveyInvitation.match_id, SurveyInvitation.contact_person_id)
        )
    )
    ids = [i.id for i in invitations]
    answers: dict[int, dict[str, str]] = defaultdict(dict)
    if ids:
        for response in session.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id.in_(ids))
        ):
            if response.value is not None:
                answers[response.invitation_id][response.question_id] = response.value
    programmes = {
        m.id: m.programme.slug
        for m in session.scalars(
            select(Match).where(Match.id.in_({i.match_id for i in invitations}))
        )
    }
    present = {i.wave for i in invitations} | (set() if survey.child_voice else {"baseline", "end"})
    waves = sorted(present, key=wave_order)
    questions = [q for q in survey.questions if with_text or q.type != "text"]
    header = ["match_pid", "respondent_pid", "programme"]
    for wave in waves:
        header += [f"{wave}_status", f"{wave}_completed_on"]
    for question in questions:
        header += [f"{question.id}_{wave}" for wave in waves if question.asked_in(wave)]
    for score in survey.scores:
        header += [f"score_{score.id}_{wave}" for wave in waves]
    by_id = {q.id: q for q in survey.questions}
    local = ZoneInfo(zone)
    grouped: dict[tuple[int, str, int], dict[str, SurveyInvitation]] = defaultdict(dict)
    for invitation in invitations:
        # The respondent: a contact person, or (the child's voice) the volunteer family.
        respondent = (
            ("family", invitation.volunteer_family_id)
            if invitation.volunteer_family_id
            else ("contact", invitation.contact_person_id or 0)
        )
        grouped[(invitation.match_id, *respondent)][invitation.wave] = invitation
    rows: list[dict[str, str]] = []
    for (match_id, kind, respondent_id), by_wave in grouped.items():
        row = {
            "match_pid": pseudonym(secret, "match", match_id),
            "respondent_pid": pseudonym(secret, kind, respondent_id),
            "programme": programmes.get(match_id, ""),
        }
        for wave in waves:
            row.update(_wave_cells(wave, by_wave.get(wave), answers, questions, local))
            given = answers.get(by_wave[wave].id, {}) if wave in by_wave else {}
            for score in survey.scores:
                row[f"score_{score.id}_{wave}"] = score.value(given, by_id) if given else ""
        rows.append(row)
    return header, rows


def _wave_cells(
    wave: str,
    sent: SurveyInvitation | None,
    answers: Mapping[int, dict[str, str]],
    questions: list[Question],
    local: ZoneInfo,
) -> dict[str, str]:
    """One wave's status, completion date and answers in a paired row."""
    if sent is None:
        status, day = "not_invited", ""
    elif sent.completed_at is not None:
        status, day = "completed", sent.completed_at.astimezone(local).date().isoformat()
    elif answers.get(sent.id):
        status, day = "partial", ""
    else:
        status, day = "not_answered", ""
    cells = {f"{wave}_status": status, f"{wave}_completed_on": day}
    given = answers.get(sent.id, {}) if sent is not None else {}
    for question in questions:
        if question.asked_in(wave):
            cells[f"{question.id}_{wave}"] = given.get(question.id, "")
    return cells


def write_csv(
    header: list[str], rows: Iterable[Mapping[str, str]], out: io.TextIOBase | Any
) -> None:
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    writer.writerow({key: csv_cell(key) for key in header})
    for row in rows:
        # Free text from parents may start with "=" or hold control characters: never a formula.
        writer.writerow({key: csv_cell(value) for key, value in row.items()})
