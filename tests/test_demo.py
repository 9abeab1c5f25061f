"""The demo year `make run` replays: its staff act on their cases as diligent staff do, so each
gets a handful of messages a week, and nothing is acknowledged before its alert went out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import (
    Audience,
    Escalation,
    EscalationStatus,
    OutboxMessage,
    OutboxStatus,
    SurveyInvitation,
    SurveyResponse,
    Task,
    TaskStatus,
)
from venskab.cli.common import AppContext
from venskab.demo import CHILD_VOICE_ANSWERS, replay, seed
from venskab.runtime import Runtime

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def test_the_demo_staff_act_on_their_cases_and_get_a_handful_of_messages_a_week(
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],  # empties the database after
) -> None:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    seed(app, NOW)
    await replay(app, NOW, Runtime)

    with app.transaction() as session:
        cases = list(session.scalars(select(Escalation)))
        sent = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.audience == Audience.STAFF,
                    OutboxMessage.status == OutboxStatus.SENT,
                )
            )
        )
        late_tasks = session.scalars(
            select(Task).where(
                Task.status == TaskStatus.OPEN, Task.due_at < NOW - timedelta(days=3)
            )
        ).all()
    alerts = {int(r.context["escalation_id"]): r for r in sent if r.kind == "alert"}
    assert len(alerts) >= 5  # families and parents wrote during the year, and staff heard
    for case in cases:
        # "Mark as unreachable?" is a proposal staff answer on the match page, not by resolving.
        if case.id in alerts and case.rule != "unreachable":
            assert case.status == EscalationStatus.RESOLVED, case.rule
            assert case.acknowledged_at is not None and case.resolution_note
            assert case.acknowledged_at >= alerts[case.id].sent_at  # type: ignore[operator]
    assert late_tasks == []  # every task done on its day
    weekly = Counter(
        (r.recipient_id, r.sent_at.isocalendar()[:2]) for r in sent if r.sent_at is not None
    )
    assert max(weekly.values()) <= 5
    # The first demo family's greeting with a photo went to its parent by SMS, with the link.
    with app.transaction() as session:
        (greeting,) = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "moment"))
        assert (greeting.channel.value, greeting.status) == ("sms", OutboxStatus.SENT)
        assert greeting.context["photo"] is True
        assert greeting.body is not None and "Vi bagte boller" in greeting.body
        assert "Se billedet: http://127.0.0.1:8000/m/[link]" in greeting.body  # no token kept


async def test_the_first_demo_match_has_answered_its_three_month_childs_voice(
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],  # empties the database after
) -> None:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    first, _, third, *_ = seed(app, NOW)
    await replay(app, NOW, Runtime, step=timedelta(days=1), staff_act=False)

    with app.transaction() as session:
        moments = {
            (i.match_id, i.wave): i
            for i in session.scalars(
                select(SurveyInvitation).where(SurveyInvitation.survey_id == "child-voice")
            )
        }
        words = session.scalars(
            select(SurveyResponse.value).where(
                SurveyResponse.invitation_id == moments[(first, "3mo")].id,
                SurveyResponse.question_id == "like_best",
            )
        ).one()
    # Barn A (Hjem til Os, 17 weeks in): asked by the family and answered; Barn C (Familien i
    # Fokus, 46 weeks in): both moments sent to the parent, not answered; Barn B: too early.
    assert sorted(moments) == [(first, "3mo"), (third, "3mo"), (third, "9mo")]
    assert moments[(first, "3mo")].completed_at is not None
    assert moments[(first, "3mo")].volunteer_family_id is not None
    assert words == CHILD_VOICE_ANSWERS["like_best"]
    assert moments[(third, "9mo")].contact_person_id is not None
    assert moments[(third, "9mo")].completed_at is None
