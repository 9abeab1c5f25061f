"""What a staff member does to one planned message stays done: an edited text is what is sent,
a new time survives re-planning, a cancelled message is not planned again (through the
``venskab tick`` a deployment runs)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scheduler import outbox
from store.models import Audience, AuditEntry, Match, OutboxMessage, OutboxStatus
from tests.support import staff_app
from tests.support.cast import make_match
from tests.support.staff_app import World, csrf_of
from tests.test_cli import cli

NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _prompts(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    OutboxMessage.audience != Audience.STAFF,
                    OutboxMessage.status == OutboxStatus.PLANNED,
                )
                .order_by(OutboxMessage.due_at)
            )
        )


def test_edited_rescheduled_and_cancelled_messages_keep_what_staff_did(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, start=date(2026, 3, 2))
        match_id, staff_id = match.id, match.staff_id
        assert staff_id is not None
    assert cli(db_url, "tick", "--now", NOW.isoformat(), now=NOW).exit_code == 0
    first, second, third = _prompts(session_factory)[:3]
    later = second.due_at + timedelta(hours=2)
    with session_factory.begin() as session:
        row = session.get(OutboxMessage, first.id)
        assert row is not None
        outbox.edit_text(
            row, "Hej! Vi glæder os til at høre fra jer. Hilsen Procesleder", staff_id, NOW
        )
        row = session.get(OutboxMessage, second.id)
        assert row is not None
        outbox.reschedule(row, later, staff_id, NOW)
        row = session.get(OutboxMessage, third.id)
        assert row is not None
        outbox.cancel_by_staff(row, staff_id, NOW)
        with pytest.raises(outbox.NotPlanned):
            outbox.edit_text(row, "for sent", staff_id, NOW)
    # A pause later in the month re-plans the match: staff's changes stay.
    result = cli(
        db_url,
        "match",
        "pause",
        str(match_id),
        "--from",
        "2026-03-25",
        "--to",
        "2026-04-01",
        now=NOW,
    )
    assert result.exit_code == 0, result.output
    assert cli(db_url, "tick", "--now", (NOW + timedelta(minutes=1)).isoformat()).exit_code == 0
    with session_factory() as session:
        assert session.get(Match, match_id).plan_version > 1  # type: ignore[union-attr]
        moved = session.get(OutboxMessage, second.id)
        assert moved is not None and moved.status == OutboxStatus.PLANNED
        assert moved.due_at == later
        cancelled = session.get(OutboxMessage, third.id)
        assert cancelled is not None and cancelled.status == OutboxStatus.CANCELLED
        assert cancelled.last_error == outbox.CANCELLED_BY_STAFF
    # At its time, the edited text is what goes out.
    at = first.due_at + timedelta(minutes=1)
    assert cli(db_url, "tick", "--now", at.isoformat(), now=at).exit_code == 0
    with session_factory() as session:
        sent = session.get(OutboxMessage, first.id)
        assert sent is not None and sent.status == OutboxStatus.SENT
        assert sent.body == "Hej! Vi glæder os til at høre fra jer. Hilsen Procesleder"


_served = staff_app._served
world = staff_app.world


def test_the_outbox_page_reschedules_and_sends_now_in_the_staff_members_time(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        first, second = session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.match_id == world.match,
                OutboxMessage.status == OutboxStatus.PLANNED,
                OutboxMessage.audience != Audience.STAFF,
            )
            .order_by(OutboxMessage.due_at)
            .limit(2)
        ).all()
    with world.client("procesleder") as client:
        page = client.get(f"/outbox/{first}")
        assert page.status_code == 200 and "Sådan ser beskeden ud" in page.text
        token = csrf_of(page.text)
        bad = client.post(f"/outbox/{first}/reschedule", data={"csrf": token, "at": "i morgen"})
        assert bad.headers["location"] == f"/outbox/{first}?error=bad_time"
        moved = client.post(
            f"/outbox/{first}/reschedule", data={"csrf": token, "at": "2026-04-20T10:15"}
        )
        assert moved.headers["location"] == f"/outbox/{first}?done=reschedule"
        assert "20. apr. 2026 kl. 10:15" in client.get(moved.headers["location"]).text
        now = client.post(f"/outbox/{second}/send-now", data={"csrf": token})
        assert now.headers["location"] == f"/outbox/{second}?done=send_now"
    with session_factory() as session:
        row = session.get(OutboxMessage, first)
        assert row is not None and row.due_at == datetime(2026, 4, 20, 8, 15, tzinfo=UTC)  # CEST
        row = session.get(OutboxMessage, second)
        assert row is not None and row.due_at == staff_app.NOW
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.entity == "outbox_message"))
        )
        assert {"outbox.view", "outbox.reschedule", "outbox.send-now"} <= actions


def test_a_match_is_sorted_filtered_and_its_start_corrected(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("admin") as client:
        listing = client.get("/matches?region=Midtjylland&sort=child").text
        assert f'href="/matches/{world.other_match}"' in listing
        assert f'href="/matches/{world.match}"' not in listing
        page = client.get(f"/matches/{world.match}")
        token = csrf_of(page.text)
        done = client.post(
            f"/matches/{world.match}/start", data={"csrf": token, "start": "2026-03-09"}
        )
        assert done.headers["location"] == f"/matches/{world.match}?done=start"
        assert "startede man. 9. mar. 2026" in client.get(done.headers["location"]).text
        bad = client.post(f"/matches/{world.match}/start", data={"csrf": token, "start": "9/3"})
        assert bad.headers["location"] == f"/matches/{world.match}?error=bad_date"
    with session_factory() as session:
        match = session.get(Match, world.match)
        assert match is not None and match.start_date == date(2026, 3, 9)
        assert match.plan_version == 2


def test_the_outbox_shows_what_an_sms_costs_and_an_arabic_one_costs_more(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    from store.models import Channel, Locale

    with session_factory.begin() as session:
        danish, arabic = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.match_id == world.other_match,
                OutboxMessage.status == OutboxStatus.PLANNED,
                OutboxMessage.channel == Channel.SMS,
                OutboxMessage.audience == Audience.VOLUNTEER_FAMILY,
            )
            .order_by(OutboxMessage.due_at)
            .limit(2)
        ).all()
        arabic.locale = Locale("ar")  # a family whose language is Arabic
        ids = danish.id, arabic.id
    with world.client("admin") as client:
        page = client.get(f"/outbox/{ids[0]}").text
        assert '<p class="meta" id="sms-cost">SMS: 1 del (GSM-7, ' in page
        page = client.get(f"/outbox/{ids[1]}").text
        assert "هل زاركم" in page  # the preview is in Arabic
        assert (
            "dele (UCS-2, " in page or "1 del (UCS-2, " in page
        ) and "dette alfabet har plads til 70 tegn i én del, 67 pr. del" in page
