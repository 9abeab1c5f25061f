"""Half a year of the waiting list and the certificates, lived through the real system.

Volunteer families and referred children come in by CSV import with their waiting status, a
family links its Telegram chat, and the runtime ticks from January to the end of July 2026 with
the real SMS, email and Telegram channels against the fake Twilio and Telegram servers and an
SMTP server. A match for a family whose teenager has turned 15 without certificates is refused
(nothing imported) until the household's certificates are recorded; the match then takes the
family and the referred child off the waiting list, and an adult's certificates run out mid-match.

What the test checks is what the people involved notice: each waiting party's notes, on the
day, hour and channel the programme says (never twice, never on a holiday), none after they
were matched; each staff task on its day for the right staff member; and the waiting report.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, delete, select

from followup.invites import create_invite, redeem_invite
from store.models import (
    Base,
    ContactPerson,
    Match,
    OutboxMessage,
    OutboxStatus,
    Referral,
    Staff,
    Task,
    VolunteerFamily,
)
from tests.conftest import free_port
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.test_followup import Mailbox
from tests.test_year_simulation import SENDER, SID, TOKEN, at, channels, local, next_moment
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.runtime import Runtime

FIRST_DAY = date(2026, 1, 5)
LAST_DAY = date(2026, 7, 31)
MATCH_DAY = date(2026, 4, 20)

STAFF_CSV = """\
ref,name,role,region,email,phone,locale
S-01,Procesleder Hovedstaden,procesleder,Hovedstaden,procesleder1@example.org,+45 2012 3401,da
S-03,Koordinator Hovedstaden,coordinator,Hovedstaden,koordinator@example.org,,da
"""
# F-10 waits from 5 January (Telegram); F-11 from 7 January (SMS only) and is matched on 20 April;
# F-12 is still being screened: it hears nothing.
FAMILIES_CSV = """\
ref,name,contact_name,phone,email,region,locale,status,status_since,programme
F-10,Venskabsfamilie 10,Kontaktvoksen 10,+45 2012 3510,f10@example.org,Hovedstaden,da,waiting,2026-01-05,hjem-til-os
F-11,Venskabsfamilie 11,Kontaktvoksen 11,+45 2012 3511,,Hovedstaden,da,godkendt,2026-01-07,hjem-til-os
F-12,Venskabsfamilie 12,Kontaktvoksen 12,+45 2012 3512,,Hovedstaden,da,screening,2026-01-02,hjem-til-os
"""
CONTACTS_CSV = """\
ref,name,relation,phone,email,locale,preferred_channel
K-10,Forælder F,parent,+45 2012 3520,,da,sms
K-11,Forælder G,parent,+45 2012 3521,foraelder.g@example.org,en,email
"""
# R-01 (Barn F) waits from 12 January and is matched with F-11; R-02 (Barn G, in English by
# email) waits all along. R-01's second note falls on Easter Monday: SMS waits for Tuesday.
REFERRALS_CSV = """\
ref,programme,child_name,child_birth_year,contact_ref,staff_ref,region,status,status_since
R-01,hjem-til-os,Barn F,2018,K-10,S-01,Hovedstaden,waiting,2026-01-12
R-02,hjem-til-os,Barn G,2016,K-11,S-01,Hovedstaden,venter,02-02-2026
"""
# Ung A of F-10 turns 15 in 2026 without certificates: flagged. F-11's adult has certificates
# that run out on 1 August 2026 (mid-match); its teenager turns 15 in 2026.
HOUSEHOLD_CSV = """\
family_ref,first_name,birth_year,child_certificate_on,criminal_record_on
F-10,Voksen A,1983,2025-09-01,2025-09-01
F-10,Ung A,2011,,
F-11,Voksen B,1979,2024-08-01,2024-08-01
F-11,Ung B,2011,,
"""
HOUSEHOLD_FIXED_CSV = """\
family_ref,first_name,birth_year,child_certificate_on,criminal_record_on
F-11,Ung B,2011,2026-04-14,2026-04-15
"""
MATCHES_CSV = """\
ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,start_date,visit_weekday,visit_time,referral_ref
M-10,hjem-til-os,Barn F,2018,F-11,K-10,S-01,Hovedstaden,2026-04-20,monday,16:00,R-01
"""
TELEGRAM_CHAT = 7010


@dataclass
class Lived:
    notes: list[tuple[str, str, datetime, str, str]] = field(default_factory=list)
    """(party ref, channel, local time sent, key, body) of every waiting note sent."""
    tasks: dict[str, tuple[date, str, str, str | None]] = field(default_factory=dict)
    """key -> (due day, owner ref, title, match ref)"""
    refused: str = ""
    refused_state: tuple[int, str, str] = (0, "", "")
    statuses: dict[str, tuple[str, date | None]] = field(default_factory=dict)
    report: list[dict[str, str]] = field(default_factory=list)
    twilio: list[tuple[str, str]] = field(default_factory=list)
    telegram: list[tuple[int, str]] = field(default_factory=list)
    emails: list[tuple[str, str]] = field(default_factory=list)


def invoke(app: AppContext, *args: str) -> Any:
    return CliRunner().invoke(main, list(args), obj=app)


def import_file(app: AppContext, tmp: Path, kind: str, text: str) -> Any:
    path = tmp / f"{kind}-{abs(hash(text))}.csv"
    path.write_text(text, encoding="utf-8")
    return invoke(app, "import", kind, str(path))


async def live(app: AppContext, lived: Lived, tmp: Path, chans: dict[str, Any]) -> None:
    runtime = Runtime(app, channels=chans, sandbox=frozenset())
    moment = at(FIRST_DAY, 7)
    end = at(LAST_DAY, 23)
    matched = False
    try:
        while moment <= end:
            app.now_override = moment
            if not matched and local(moment).date() >= MATCH_DAY:
                refused = import_file(app, tmp, "matches", MATCHES_CSV)
                assert refused.exit_code == 2, refused.output
                lived.refused = refused.output
                with app.session_factory() as session:
                    lived.refused_state = (
                        len(list(session.scalars(select(Match)))),
                        session.scalars(select(Referral.status)).first() or "",
                        session.scalars(
                            select(VolunteerFamily.status).where(
                                VolunteerFamily.external_ref == "F-11"
                            )
                        ).one()
                        or "",
                    )
                fixed = import_file(app, tmp, "household", HOUSEHOLD_FIXED_CSV)
                assert fixed.exit_code == 0, fixed.output
                done = import_file(app, tmp, "matches", MATCHES_CSV)
                assert done.exit_code == 0, done.output
                matched = True
            await runtime.tick(moment)
            with app.session_factory() as session:
                moment = next_moment(session, moment)
    finally:
        await runtime.close()


def collect(app: AppContext, lived: Lived) -> None:
    with app.session_factory() as session:
        refs = {
            ("volunteer_family", f.id): f.external_ref
            for f in session.scalars(select(VolunteerFamily))
        }
        refs |= {
            ("contact_person", c.id): c.external_ref for c in session.scalars(select(ContactPerson))
        }
        staff = {s.id: s.external_ref or "" for s in session.scalars(select(Staff))}
        matches = {m.id: m.external_ref for m in session.scalars(select(Match))}
        for row in session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.kind == "waiting_note",
                OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.DELIVERED)),
            )
            .order_by(OutboxMessage.sent_at)
        ):
            assert row.sent_at is not None
            sent = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=UTC)
            lived.notes.append(
                (
                    refs[(row.audience.value, row.recipient_id)] or "",
                    row.channel.value,
                    local(sent).replace(tzinfo=None),
                    row.idempotency_key,
                    row.body or "",
                )
            )
        for task in session.scalars(select(Task).where(Task.idempotency_key.is_not(None))):
            key = task.idempotency_key or ""
            if not key.startswith(("wait:", "cert:")):
                continue
            due = task.due_at if task.due_at.tzinfo else task.due_at.replace(tzinfo=UTC)
            lived.tasks[key] = (
                local(due).date(),
                staff.get(task.owner_id or 0, ""),
                task.title,
                matches.get(task.match_id or 0),
            )
        for family in session.scalars(select(VolunteerFamily)):
            status = family.status.value if family.status else ""
            lived.statuses[family.external_ref or ""] = (status, family.status_since)
        for referral in session.scalars(select(Referral)):
            lived.statuses[referral.external_ref or ""] = (
                referral.status.value,
                referral.status_since,
            )
    report = invoke(app, "report", "waiting", "--from", "2026-01-01", "--to", "2026-07-31")
    assert report.exit_code == 0, report.output
    lived.report = list(csv.DictReader(io.StringIO(report.output.split("\n\n")[0])))


@pytest.fixture(scope="module")
def lived(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lived]:
    tmp = tmp_path_factory.mktemp("waiting")
    handler = Mailbox()
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    result = Lived()
    try:
        with FakeTwilio(TOKEN, account_sid=SID) as twilio, FakeTelegram() as telegram:
            app = AppContext(
                env={
                    "VENSKAB_DATABASE_URL": db_url,
                    "TWILIO_ACCOUNT_SID": SID,
                    "TWILIO_AUTH_TOKEN": TOKEN,
                    "TWILIO_FROM": SENDER,
                    "TWILIO_API_URL": twilio.url,
                    "VENSKAB_SMS_SEGMENTS_PER_SECOND": "1000",
                    "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                    "TELEGRAM_API_URL": telegram.url,
                    "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(port),
                    "SMTP_STARTTLS": "false",
                    "MAIL_FROM": "venskab@example.org",
                },
                now_override=at(FIRST_DAY - timedelta(days=3), 10),
            )
            for kind, text in (
                ("staff", STAFF_CSV),
                ("families", FAMILIES_CSV),
                ("contacts", CONTACTS_CSV),
                ("referrals", REFERRALS_CSV),
                ("household", HOUSEHOLD_CSV),
            ):
                imported = import_file(app, tmp, kind, text)
                assert imported.exit_code == 0, imported.output
            with app.transaction() as session:
                family = session.scalars(
                    select(VolunteerFamily).where(VolunteerFamily.external_ref == "F-10")
                ).one()
                token, _ = create_invite(session, "family", family.id, app.now())
                redeem_invite(session, token, TELEGRAM_CHAT, app.now())
            asyncio.run(live(app, result, tmp, channels(app, twilio, telegram, port)))
            collect(app, result)
            result.twilio = [(m.to, m.params.get("Body", "")) for m in twilio.messages]
            result.telegram = [
                (int(p["chat_id"]), p["text"]) for _, p in telegram.sent("sendMessage")
            ]
            result.emails = [(str(m["To"]), str(m["Subject"])) for m in handler.messages]
            assert twilio.violations == [] and telegram.violations == []
            app.close()
        yield result
    finally:
        smtp.stop()
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(delete(table))


def notes_of(lived: Lived, party: str) -> list[tuple[str, datetime]]:
    return [(channel, sent) for who, channel, sent, _, _ in lived.notes if who == party]


def test_each_waiting_party_hears_from_us_every_six_weeks_by_its_channel(lived: Lived) -> None:
    assert notes_of(lived, "F-10") == [
        ("telegram", datetime(2026, 2, 16, 10, 0)),
        ("telegram", datetime(2026, 3, 30, 10, 0)),
        ("telegram", datetime(2026, 5, 11, 10, 0)),
        ("telegram", datetime(2026, 6, 22, 10, 0)),
    ]
    # The English parent by email, every six weeks from 2 February.
    assert notes_of(lived, "K-11") == [
        ("email", datetime(2026, 3, 16, 10, 0)),
        ("email", datetime(2026, 4, 27, 10, 0)),
        ("email", datetime(2026, 6, 8, 10, 0)),
        ("email", datetime(2026, 7, 20, 10, 0)),
    ]
    # The family still being screened hears nothing.
    assert notes_of(lived, "F-12") == []


def test_matching_ends_the_notes_and_an_sms_waits_out_easter_monday(lived: Lived) -> None:
    # F-11 and R-01's parent until the match on 20 April, and nothing after.
    assert notes_of(lived, "F-11") == [
        ("sms", datetime(2026, 2, 18, 10, 0)),
        ("sms", datetime(2026, 4, 1, 10, 0)),
    ]
    assert notes_of(lived, "K-10") == [
        ("sms", datetime(2026, 2, 23, 10, 0)),
        ("sms", datetime(2026, 4, 7, 8, 0)),  # due on Easter Monday, a holiday
    ]
    assert lived.statuses["F-11"] == ("matched", MATCH_DAY)
    assert lived.statuses["R-01"] == ("matched", MATCH_DAY)
    assert lived.statuses["F-10"] == ("waiting", date(2026, 1, 5))
    assert lived.statuses["R-02"] == ("waiting", date(2026, 2, 2))


def test_no_note_goes_twice_and_each_reads_warmly_in_its_language(lived: Lived) -> None:
    keys = [key for _, _, _, key, _ in lived.notes]
    assert len(keys) == len(set(keys)) == 12
    for who, _, _, _, body in lived.notes:
        if who == "K-11":
            assert "We have not forgotten Barn G" in body
            continue
        assert "Vi har ikke glemt" in body
        if who == "K-10":
            assert "Barn F" in body and "du hører fra os" in body
        else:
            assert "venskabsfamilie" in body and "I hører fra os" in body
        assert "forfalden" not in body
    # What the providers received: four Telegram notes, four SMS, four emails.
    assert (
        sum(
            "Vi har ikke glemt jer" in text
            for chat, text in lived.telegram
            if chat == TELEGRAM_CHAT
        )
        == 4
    )
    assert sum("Vi har ikke glemt" in body for _, body in lived.twilio) == 4
    assert [to for to, subject in lived.emails if "not forgotten" in subject] == [
        "foraelder.g@example.org"
    ] * 4


def test_staff_get_a_task_when_someone_has_waited_twelve_weeks(lived: Lived) -> None:
    tasks = {k: v for k, v in lived.tasks.items() if k.startswith("wait:")}
    assert len(tasks) == 4  # once per spell of waiting, however many ticks
    by_title = sorted((due, owner, title.split(":")[0]) for due, owner, title, _ in tasks.values())
    assert by_title == [
        (date(2026, 3, 30), "S-03", "Venskabsfamilie 10 har ventet 12 uger på et match"),
        (date(2026, 4, 1), "S-03", "Venskabsfamilie 11 har ventet 12 uger på et match"),
        # 6 April is Easter Monday: the task moves to the Tuesday.
        (date(2026, 4, 7), "S-01", "Barn F har ventet 12 uger på en venskabsfamilie"),
        (date(2026, 4, 27), "S-01", "Barn G har ventet 12 uger på en venskabsfamilie"),
    ]


def test_a_teenager_without_certificates_blocks_the_match_until_they_are_recorded(
    lived: Lived,
) -> None:
    assert "linje 2, kolonne family_ref" in lived.refused  # the staff member reads Danish
    assert (
        "Ung B (født 2011) har hverken en gyldig børneattest eller en gyldig straffeattest"
        in lived.refused
    )
    assert "+45" not in lived.refused
    # Nothing was imported by the refused file: no match, the child and family still waiting.
    assert lived.refused_state == (0, "waiting", "waiting")


def test_certificates_are_renewed_ahead_and_new_fifteen_year_olds_are_flagged(
    lived: Lived,
) -> None:
    certificates = {k: v for k, v in lived.tasks.items() if k.startswith("cert:")}
    rows = sorted((due, owner, title, match) for due, owner, title, match in certificates.values())
    assert rows == [
        # Ung A turns 15 in 2026 and has no certificates: flagged on the first working day.
        (
            date(2026, 1, 5),
            "S-03",
            "Ung A (Venskabsfamilie 10) fylder 15 i 2026: indhent børne- og straffeattest",
            None,
        ),
        # Ung B was flagged too, before the certificates were recorded.
        (
            date(2026, 1, 5),
            "S-03",
            "Ung B (Venskabsfamilie 11) fylder 15 i 2026: indhent børne- og straffeattest",
            None,
        ),
        # Voksen B's certificates of 1 August 2024 run out mid-match: 60 days ahead, to the
        # match's staff member, on the match.
        (
            date(2026, 6, 2),
            "S-01",
            "Forny børneattesten for Voksen B (Venskabsfamilie 11): den udløber 01.08.2026",
            "M-10",
        ),
        (
            date(2026, 6, 2),
            "S-01",
            "Forny straffeattesten for Voksen B (Venskabsfamilie 11): den udløber 01.08.2026",
            "M-10",
        ),
    ]


def test_the_waiting_report_shows_how_long_each_party_has_waited(lived: Lived) -> None:
    rows = {(r["party"], r["party_ref"]): r for r in lived.report}
    family = rows[("volunteer_family", "F-10")]
    assert (family["status"], family["status_since"], family["waiting_days"]) == (
        "waiting",
        "2026-01-05",
        str((LAST_DAY - date(2026, 1, 5)).days),
    )
    assert (family["over_threshold"], family["notes_sent"]) == ("true", "4")
    matched = rows[("referral", "R-01")]
    assert (matched["status"], matched["status_since"], matched["waiting_days"]) == (
        "matched",
        "2026-04-20",
        "",
    )
    assert matched["match_id"] != "" and matched["notes_sent"] == "2"
    assert rows[("referral", "R-02")]["waiting_days"] == str((LAST_DAY - date(2026, 2, 2)).days)
    assert rows[("volunteer_family", "F-12")]["status"] == "screening"
    text = "".join(",".join(r.values()) for r in lived.report)
    assert "Venskabsfamilie" not in text and "Barn" not in text and "+45" not in text
