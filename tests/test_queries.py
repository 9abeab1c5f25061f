"""The bulk insert the planner uses: rows from shared templates, duplicates skipped and counted,
constant defaults filled in, values stored as the ORM would store them. On the suite's database
(SQLite, or PostgreSQL in CI, where it sends arrays instead of an executemany)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Engine, Table, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import Audience, Channel, Locale, OutboxMessage, OutboxStatus
from store.queries import RowInserter, select_for_ids
from tests.support.cast import make_match

SHARED = ["touchpoint_id", "occurrence_key", "kind", "template", "audience", "channel"]
SHARED += ["locale", "essential", "due_at", "expires_at", "status", "context", "last_error"]
OWN = ["idempotency_key", "match_id", "recipient_id", "plan_version", "created_at", "updated_at"]
DUE = datetime(2026, 3, 9, 17, tzinfo=UTC)


def _template(inserter: RowInserter, **changes: Any) -> tuple[Any, ...]:
    values = {
        "touchpoint_id": "weekly_prompt",
        "occurrence_key": "2026-03-09",
        "kind": "visit_prompt",
        "template": "visit_prompt",
        "audience": Audience.VOLUNTEER_FAMILY,
        "channel": Channel.TELEGRAM,
        "locale": Locale.DA,
        "essential": False,
        "due_at": DUE,
        "expires_at": None,
        "status": OutboxStatus.PLANNED,
        "context": {"reminder": 0, "note": "æøå"},
        "last_error": None,
        **changes,
    }
    return inserter.template(values)


def test_rows_are_inserted_once_with_their_template_values_and_the_defaults(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    inserter = RowInserter(
        engine.dialect, cast(Table, OutboxMessage.__table__), SHARED, OWN, "idempotency_key"
    )
    created = inserter.convert("created_at", datetime(2026, 3, 1, tzinfo=UTC))
    weekly = _template(inserter)
    expired = _template(
        inserter,
        occurrence_key="2026-03-02",
        due_at=DUE - timedelta(days=7),
        expires_at=DUE - timedelta(days=6),
        status=OutboxStatus.EXPIRED,
        context={"reminder": 1},
        last_error="expired before it could be sent",
    )

    def row(template: tuple[Any, ...], key: str) -> tuple[Any, ...]:
        return (template, key, match_id, 7, 1, created, created)

    with session_factory.begin() as session:
        first = inserter.run(session.connection(), [row(weekly, "a"), row(expired, "b")])
    with session_factory.begin() as session:
        # "a" is there already: skipped, and not counted.
        again = inserter.run(
            session.connection(), [row(weekly, "a"), row(weekly, "c"), row(expired, "d")]
        )
    assert (first, again) == (2, 2)

    with session_factory() as session:
        rows = {r.idempotency_key: r for r in session.scalars(select(OutboxMessage))}
    assert sorted(rows) == ["a", "b", "c", "d"]
    a, b = rows["a"], rows["b"]
    assert (a.match_id, a.recipient_id, a.plan_version) == (match_id, 7, 1)
    assert (a.status, a.channel, a.locale, a.due_at) == (
        OutboxStatus.PLANNED,
        Channel.TELEGRAM,
        Locale.DA,
        DUE,
    )
    assert a.context == {"reminder": 0, "note": "æøå"}  # a JSON object, not a string
    assert (a.attempts, a.sandbox) == (0, False)  # the columns' defaults
    assert a.created_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert (b.status, b.expires_at, b.context) == (
        OutboxStatus.EXPIRED,
        DUE - timedelta(days=6),
        {"reminder": 1},
    )
    assert b.last_error == "expired before it could be sent"


def test_no_rows_insert_nothing(engine: Engine, session_factory: sessionmaker[Session]) -> None:
    inserter = RowInserter(
        engine.dialect, cast(Table, OutboxMessage.__table__), SHARED, OWN, "idempotency_key"
    )
    with session_factory.begin() as session:
        assert inserter.run(session.connection(), []) == 0


@pytest.mark.parametrize(
    ("left_out", "why"),
    [
        ("context", "no constant default"),  # its default is dict(): a callable
        ("touchpoint_id", "no default"),  # not nullable, no default at all
    ],
)
def test_a_column_it_cannot_fill_must_be_given(engine: Engine, left_out: str, why: str) -> None:
    shared = [name for name in SHARED if name != left_out]
    with pytest.raises(ValueError, match=f"outbox_message.{left_out}: give it, it has {why}"):
        RowInserter(
            engine.dialect, cast(Table, OutboxMessage.__table__), shared, OWN, "idempotency_key"
        )


def test_select_for_ids_finds_exactly_the_rows_of_those_ids_and_keeps_the_filter(
    engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        matches = [make_match(session, telegram_chat_id=5001 + n).id for n in range(3)]
    inserter = RowInserter(
        engine.dialect, cast(Table, OutboxMessage.__table__), SHARED, OWN, "idempotency_key"
    )
    created = inserter.convert("created_at", datetime(2026, 3, 1, tzinfo=UTC))
    planned = _template(inserter)
    sent = _template(inserter, occurrence_key="2026-03-02", status=OutboxStatus.SENT)
    rows = [
        (template, f"{match_id}:{n}", match_id, 1, 1, created, created)
        for match_id in matches
        for n, template in enumerate([planned, sent, planned])
    ]
    with session_factory.begin() as session:
        inserter.run(session.connection(), rows)
        query = select(OutboxMessage.idempotency_key, OutboxMessage.match_id).where(
            OutboxMessage.status == OutboxStatus.PLANNED
        )
        found = select_for_ids(
            session.connection(), query, OutboxMessage.match_id, [matches[0], matches[2], 999]
        ).all()
    assert sorted((r.idempotency_key, r.match_id) for r in found) == [
        (f"{matches[0]}:0", matches[0]),
        (f"{matches[0]}:2", matches[0]),
        (f"{matches[2]}:0", matches[2]),
        (f"{matches[2]}:2", matches[2]),
    ]
