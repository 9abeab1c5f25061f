"""The reports of what families and children answer: the survey funnel and the child's voice."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup.child_voice import voice_surveys
from followup.reports.base import Column, Report, Row, Scope, match_columns, match_values, share_of
from followup.survey_reports import results
from followup.survey_results import saved_answers
from scheduler.i18n import N_
from store.models import Match, SurveyInvitation
from store.validation import ascii_digits

# -- surveys -----------------------------------------------------------------------------------


def _survey_rows(session: Session, scope: Scope) -> Iterator[Row]:
    for wave in results(session):
        steps = max(wave.completed_at_step, default=0)
        completed = 0
        for step in range(steps + 1):
            completed += wave.completed_at_step[step]
            yield {
                "survey": wave.survey_id,
                "wave": wave.wave,
                "reminder_step": step,
                "invited": wave.invited,
                "sent": wave.sent,
                "opened": wave.opened,
                "completed_at_step": wave.completed_at_step[step],
                "completed_by_step": completed,
                "response_rate_by_step": share_of(completed, wave.sent),
            }


SURVEYS = Report(
    "surveys",
    N_(
        "The survey funnel: per survey, wave and reminder step, how many were invited, sent, opened, "
        "and completed after that step (all time; the paired answers are `venskab survey export`)."
    ),
    (
        Column("survey", "text", N_("The survey's id (its file in surveys/).")),
        Column("wave", "text", N_("baseline, end or followup.")),
        Column(
            "reminder_step",
            "integer",
            N_(
                "0: the invitation itself; 1, 2...: the reminders of the ladder, then the staff call."
            ),
        ),
        Column("invited", "integer", N_("Invitations made for this wave.")),
        Column("sent", "integer", N_("Of those, the ones that reached the respondent.")),
        Column("opened", "integer", N_("Of those, the ones whose link was opened.")),
        Column("completed_at_step", "integer", N_("Completed after this step, before the next.")),
        Column("completed_by_step", "integer", N_("Completed after this step or an earlier one.")),
        Column("response_rate_by_step", "decimal", N_("completed_by_step / sent, 0 to 1.")),
    ),
    _survey_rows,
)


# -- the child's voice -------------------------------------------------------------------------

VOICE_SMILEYS = ("feel_at_family", "doing_things", "look_forward")


def _child_voice_rows(session: Session, scope: Scope) -> Iterator[Row]:
    start, end = scope.bounds()
    surveys = voice_surveys()
    query = scope.matches(
        select(Match)
        .join(SurveyInvitation, SurveyInvitation.match_id == Match.id)
        .where(
            SurveyInvitation.survey_id.in_(list(surveys)),
            SurveyInvitation.completed_at >= start,
            SurveyInvitation.completed_at < end,
        )
        .options(selectinload(Match.programme), selectinload(Match.staff))
    ).add_columns(SurveyInvitation)
    for match, invitation in session.execute(
        query.order_by(SurveyInvitation.completed_at, Match.id)
    ):
        answers = saved_answers(session, invitation.id)
        smileys = [int(answers[q]) for q in VOICE_SMILEYS if ascii_digits(answers.get(q, ""))]
        yield {
            **match_values(match),
            "moment": invitation.wave,
            "relayed_by": "volunteer_family" if invitation.volunteer_family_id else "parent",
            "answered_on": scope.local(invitation.completed_at),
            **{
                q: int(answers[q]) if ascii_digits(answers.get(q, "")) else None
                for q in VOICE_SMILEYS
            },
            "smiley_mean": round(sum(smileys) / len(smileys), 2) if smileys else None,
            "own_words": bool(answers.get("like_best")),
        }


CHILD_VOICE = Report(
    "child-voice",
    N_(
        "The child's voice: per match, each moment (3 or 9 months into the match) whose child-friendly "
        "check-in was answered in the period, relayed by the volunteer family or the parent. The "
        "child's own words stay on the match page (they may name people)."
    ),
    (
        *match_columns(),
        Column("moment", "text", N_("How far into the match: 3mo, 9mo.")),
        Column(
            "relayed_by", "text", N_("volunteer_family or parent: the adult who asked the child.")
        ),
        Column("answered_on", "date", N_("The day the answers were completed.")),
        Column(
            "feel_at_family", "integer", N_("How the child feels at the family, 1 (😟) to 5 (😄).")
        ),
        Column("doing_things", "integer", N_("Doing things together with them, 1 (😟) to 5 (😄).")),
        Column("look_forward", "integer", N_("Looking forward to next time, 1 (😟) to 5 (😄).")),
        Column("smiley_mean", "decimal", N_("The mean of the smiley answers given, 1 to 5.")),
        Column("own_words", "boolean", N_("The child's own words were written down too.")),
    ),
    _child_voice_rows,
)
