"""The child's voice: a survey (``child_voice: true``) relayed by an adult around the child.

The programme's touchpoints ask at moments into the match (``wave: 3mo``, ``9mo``); the volunteer
family (on Telegram, one smiley question at a time, then the open question) or the parent (on
the survey's web page) relays the child's own answers. They are stored as survey answers of the
match's invitation, so the reminder ladder, the paired export, export and erasure of a person
and the web page are the survey system's; this module reads and writes them for the bot, the
match page and the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.survey_defs import Question, Survey, default_surveys, wave_order
from followup.survey_results import complete, save_answers, saved_answers
from store.models import Match, SurveyInvitation, SurveyResponse
from store.validation import ascii_digits

# The smiley scale, 1 to 5: on the bot's buttons and on the match page.
FACES = {1: "😟", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}


def voice_surveys() -> dict[str, Survey]:
    return {key: s for key, s in default_surveys().items() if s.child_voice}


def scale_questions(survey: Survey, wave: str) -> list[Question]:
    return [q for q in survey.questions_for(wave) if q.type == "scale"]


def text_question(survey: Survey, wave: str) -> Question | None:
    return next((q for q in survey.questions_for(wave) if q.type == "text"), None)


def family_invitation(
    session: Session, match: Match, wave: str
) -> tuple[SurveyInvitation, Survey] | None:
    """The volunteer family's child's-voice invitation of ``match`` at ``wave`` (sent to them),
    with its survey; None if there is none."""
    surveys = voice_surveys()
    for invitation in session.scalars(
        select(SurveyInvitation).where(
            SurveyInvitation.match_id == match.id,
            SurveyInvitation.volunteer_family_id == match.volunteer_family_id,
            SurveyInvitation.wave == wave,
            SurveyInvitation.survey_id.in_(list(surveys)),
        )
    ):
        return invitation, surveys[invitation.survey_id]
    return None


def open_family_invitation(
    session: Session, match: Match, wave: str, now: datetime
) -> tuple[SurveyInvitation, Survey] | None:
    """As :func:`family_invitation`, only while it can still be answered."""
    found = family_invitation(session, match, wave)
    if found is None:
        return None
    invitation, _survey = found
    if invitation.completed_at is not None or invitation.expires_at <= now:
        return None
    return found


def answer(
    session: Session,
    invitation: SurveyInvitation,
    survey: Survey,
    question: Question,
    raw: str,
    now: datetime,
) -> str | None:
    """Store one answer (a smiley 1-5 or the child's words); what was stored."""
    return save_answers(session, invitation, survey, {question.id: raw}, now)[question.id]


def finish(session: Session, invitation: SurveyInvitation, now: datetime) -> None:
    complete(session, invitation, now, via="telegram")


@dataclass
class Moment:
    """One child's-voice moment of a match, as staff see it."""

    wave: str
    survey: Survey
    invitation: SurveyInvitation
    answers: dict[str, str] = field(default_factory=dict)

    @property
    def months(self) -> int | None:
        return int(self.wave[:-2]) if self.wave.endswith("mo") else None

    @property
    def answered(self) -> bool:
        return self.invitation.completed_at is not None or bool(self.answers)


def moments(session: Session, match_id: int) -> list[Moment]:
    """The match's child's-voice moments that were invited, in order, with their answers."""
    surveys = voice_surveys()
    if not surveys:
        return []
    found = [
        Moment(i.wave, surveys[i.survey_id], i, saved_answers(session, i.id))
        for i in session.scalars(
            select(SurveyInvitation).where(
                SurveyInvitation.match_id == match_id,
                SurveyInvitation.survey_id.in_(list(surveys)),
                SurveyInvitation.sent_at.is_not(None),
            )
        )
    ]
    return sorted(found, key=lambda m: (wave_order(m.wave), m.invitation.id))


def latest_scores(session: Session, match_ids: list[int]) -> dict[int, tuple[str, float]]:
    """Per match: the latest answered moment and the mean of its smiley answers (1-5)."""
    surveys = voice_surveys()
    if not match_ids or not surveys:
        return {}
    scales = {q.id for s in surveys.values() for q in s.questions if q.type == "scale"}
    rows = session.execute(
        select(SurveyInvitation.match_id, SurveyInvitation.wave, SurveyResponse.value)
        .join(SurveyResponse, SurveyResponse.invitation_id == SurveyInvitation.id)
        .where(
            SurveyInvitation.match_id.in_(match_ids),
            SurveyInvitation.survey_id.in_(list(surveys)),
            SurveyResponse.question_id.in_(list(scales)),
        )
    ).all()
    by_moment: dict[tuple[int, str], list[int]] = {}
    for match_id, wave, value in rows:
        if value and ascii_digits(value):
            by_moment.setdefault((match_id, wave), []).append(int(value))
    latest: dict[int, tuple[str, float]] = {}
    for (match_id, wave), values in by_moment.items():
        current = latest.get(match_id)
        if current is None or wave_order(wave) > wave_order(current[0]):
            latest[match_id] = (wave, round(sum(values) / len(values), 2))
    return latest
