"""A year of every shipped programme, lived through the real system.

Five matches come in through CSV import (the importer ``venskab import`` runs), and the runtime
ticks (the planner, the follow-up rules, the dispatcher) at every moment something is due and
once every morning, from December 2025 to February 2027. The real SMS, voice, email and Telegram
channels send to the fake Twilio and Telegram servers and to an SMTP server (aiosmtpd).

The year then holds what each programme's YAML says, at the dates a person can check on a
calendar: the README's table of each programme's year is parsed and compared with what was sent,
so the README cannot drift from the system. No SMS goes out in quiet hours or on a holiday,
nothing is sent twice, and no case pushes more often than its escalation policy allows.
"""

from __future__ import annotations

import asyncio
import bisect
import re
import time as wall
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from followup.invites import create_invite, redeem_invite
from scheduler.channels.email import EmailChannel
from scheduler.channels.sms import SmsChannel
from scheduler.channels.telegram import ChatRateLimiter, TelegramChannel, make_bot
from scheduler.channels.voice import VoiceChannel
from scheduler.programme import PROGRAMMES_DIR, load_all
from scheduler.working_days import holiday_name
from store.models import (
    AuditEntry,
    Base,
    ContactPerson,
    Escalation,
    Match,
    OutboxMessage,
    OutboxStatus,
    Staff,
    Task,
    VolunteerFamily,
)
from tests.conftest import free_port
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.test_followup import Mailbox
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.runtime import Runtime

ZONE = ZoneInfo("Europe/Copenhagen")
SID = "AC" + "7" * 32
TOKEN = "twilio-year-token"
SENDER = "+4520123400"
FIRST_DAY = date(2025, 12, 22)
LAST_DAY = date(2027, 2, 10)
MORNING = time(7, 0)  # besides the due moments, one tick every morning
README = Path(__file__).resolve().parent.parent / "README.md"

STAFF_CSV = """\
ref,name,role,region,email,phone,locale
S-01,Procesleder Hovedstaden,procesleder,Hovedstaden,procesleder1@example.org,+45 2012 3401,da
S-02,Procesleder Midtjylland,procesleder,Midtjylland,procesleder2@example.org,,da
S-03,Koordinator,coordinator,,koordinator@example.org,+45 2012 3403,da
"""
FAMILIES_CSV = """\
ref,name,contact_name,phone,email,region,locale
F-01,Familien Eksempel,Kontaktvoksen 1,+45 2012 3411,familie1@example.org,Hovedstaden,da
F-02,Venskabsfamilie 2,Kontaktvoksen 2,+45 2012 3412,,Hovedstaden,da
F-03,Venskabsfamilie 3,Kontaktvoksen 3,+45 2012 3413,familie3@example.org,Hovedstaden,da
F-04,Venskabsfamilie 4,Kontaktvoksen 4,+45 2012 3414,familie4@example.org,Midtjylland,da
F-05,Venskabsfamilie 5,Kontaktvoksen 5,+45 2012 3415,familie5@example.org,Hovedstaden,en
"""
CONTACTS_CSV = """\
ref,name,relation,phone,email,locale,preferred_channel
K-01,Forælder 1,parent,+45 2012 3421,foraelder1@example.org,da,sms
K-02,Forælder 2,parent,+45 2012 3422,,da,
K-03,Forælder 3,parent,+45 2012 3423,foraelder3@example.org,da,sms
K-04,Kontaktperson på institution,institution,+45 2012 3424,institution@example.org,da,email
K-05,Forælder 5,parent,+45 2012 3425,foraelder5@example.org,en,sms
"""
# M-01: a Hjem til Os year (Monday visits, Telegram), across both changes of daylight saving time.
# M-02: Hjem til Os from 24 December: its anniversary is a holiday; an SMS-only family whose
#       visits are on Sundays (the SMS weekend window closes at 18:00, before the 19:00 prompt).
# M-03: Hjem til Os, ended early by the volunteer family on 20 May 2026.
# M-04: Mentorbarn (open-ended; its first year), a family without Telegram.
# M-05: Familien i Fokus, every other Tuesday, in English.
MATCHES_CSV = """\
ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,start_date,visit_weekday,visit_time,cadence,sibling
M-01,hjem-til-os,Barn A,2018,F-01,K-01,S-01,Hovedstaden,2026-01-05,monday,15:30,,no
M-02,hjem-til-os,Barn B,2017,F-02,K-02,S-01,Hovedstaden,2025-12-24,sunday,11:00,,no
M-03,hjem-til-os,Barn C,2019,F-03,K-03,S-01,Hovedstaden,2026-01-07,wednesday,16:00,,no
M-04,mentorbarn,Barn D,2014,F-04,K-04,S-02,,2026-01-12,monday,16:00,,yes
M-05,familien-i-fokus,Barn E,2016,F-05,K-05,S-01,Hovedstaden,2026-01-06,tuesday,,biweekly,no
"""
TELEGRAM_CHATS = {"F-01": 7001, "F-03": 7003, "F-05": 7005, "S-01": 7101}
EARLY_END = ("M-03", date(2026, 5, 20))
SLUGS = {line.split(",")[0]: line.split(",")[1] for line in MATCHES_CSV.splitlines()[1:]}
PROGRAMMES = load_all(PROGRAMMES_DIR)


# -- what was sent ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One message that left the system, as the outbox recorded it."""

    match: str | None  # the match's ref; None for staff messages about several matches
    touchpoint: str
    kind: str
    audience: str
    recipient: str  # the person's ref
    channel: str
    at: datetime  # local time of sending
    body: str
    context: dict[str, Any]
    occurrence: str


@dataclass
class Year:
    sent: list[Sent] = field(default_factory=list)
    tasks: list[tuple[str, str, date, str]] = field(default_factory=list)  # match, tp, due, owner
    cases: list[tuple[str, str, str, int]] = field(default_factory=list)  # match, rule, sev, pushes
    twilio_messages: list[tuple[str, str]] = field(default_factory=list)  # (to, body)
    twilio_calls: list[str] = field(default_factory=list)
    telegram: list[tuple[int, str]] = field(default_factory=list)
    emails: list[tuple[str, str]] = field(default_factory=list)  # (to, subject)
    ticks: int = 0
    seconds: float = 0.0
    moments: list[datetime] = field(default_factory=list)  # every tick's now, and the setup's
    stamps: list[tuple[str, datetime]] = field(default_factory=list)  # (table, row time)

    def of_staff(self, staff: str) -> list[Sent]:
        return [s for s in self.sent if s.recipient == staff]

    def of(self, match: str, touchpoint: str | None = None) -> list[Sent]:
        return [
            s
            for s in self.sent
            if s.match == match and (touchpoint is None or s.touchpoint == touchpoint)
        ]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local(moment: datetime) -> datetime:
    return moment.astimezone(ZONE)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZONE)


def next_moment(session: Session, now: datetime) -> datetime:
    """The next morning tick, or sooner the next moment a planned message is due."""
    today = local(now).date()
    morning = at(today, MORNING.hour)
    if morning <= now:
        morning = at(today + timedelta(days=1), MORNING.hour)
    due = session.scalar(
        select(func.min(func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.due_at))).where(
            OutboxMessage.status == OutboxStatus.PLANNED,
            func.coalesce(OutboxMessage.next_attempt_at, OutboxMessage.due_at) > now,
        )
    )
    if due is not None:
        due = due.replace(tzinfo=UTC) if due.tzinfo is None else due
        return min(morning, due)
    return morning


def import_csv(app: AppContext, tmp: Path, kind: str, text: str) -> None:
    path = tmp / f"{kind}.csv"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["import", kind, str(path)], obj=app)
    assert result.exit_code == 0, result.output


def cli(app: AppContext, *args: str) -> None:
    result = CliRunner().invoke(main, list(args), obj=app)
    assert result.exit_code == 0, result.output


def link_telegram(app: AppContext, now: datetime) -> None:
    """Each Telegram user opens their invite link (what the bot's /start does with it)."""
    with app.transaction() as session:
        for ref, chat in TELEGRAM_CHATS.items():
            if ref.startswith("S-"):
                staff = session.scalars(select(Staff).where(Staff.external_ref == ref)).one()
                token, _ = create_invite(session, "staff", staff.id, now)
            else:
                query = select(VolunteerFamily).where(VolunteerFamily.external_ref == ref)
                token, _ = create_invite(session, "family", session.scalars(query).one().id, now)
            redeem_invite(session, token, chat, now)


def collect(app: AppContext, year: Year) -> None:
    with app.session_factory() as session:
        matches = {m.id: m.external_ref or "" for m in session.scalars(select(Match))}
        people: dict[tuple[str, int], str] = {}
        for family in session.scalars(select(VolunteerFamily)):
            people[("volunteer_family", family.id)] = family.external_ref or ""
        for contact in session.scalars(select(ContactPerson)):
            people[("contact_person", contact.id)] = contact.external_ref or ""
        for staff in session.scalars(select(Staff)):
            people[("staff", staff.id)] = staff.external_ref or ""
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]))
            .order_by(OutboxMessage.sent_at, OutboxMessage.id)
        )
        for row in rows:
            assert row.sent_at is not None
            sent_at = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=UTC)
            year.sent.append(
                Sent(
                    match=matches.get(row.match_id) if row.match_id else None,
                    touchpoint=row.touchpoint_id,
                    kind=row.kind,
                    audience=row.audience.value,
                    recipient=people[(row.audience.value, row.recipient_id)],
                    channel=row.channel.value,
                    at=local(sent_at),
                    body=row.body or "",
                    context=dict(row.context or {}),
                    occurrence=row.occurrence_key,
                )
            )
        for model, column in (
            (OutboxMessage, OutboxMessage.updated_at),
            (Task, Task.created_at),
            # (Not ``last_notified_at``: that is when a push is due on the policy's clock, e.g.
            # 08:00 for one queued at 07:00 that waits for working hours.)
            (Escalation, Escalation.updated_at),
            (AuditEntry, AuditEntry.at),
        ):
            for stamp in session.scalars(select(column).where(column.is_not(None))):
                assert stamp is not None
                year.stamps.append((model.__tablename__, local(_aware(stamp))))
        for task in session.scalars(select(Task).order_by(Task.due_at)):
            owner = people.get(("staff", task.owner_id or 0), "")
            due = task.due_at if task.due_at.tzinfo else task.due_at.replace(tzinfo=UTC)
            year.tasks.append(
                (
                    matches.get(task.match_id or 0, ""),
                    task.touchpoint_id or "",
                    local(due).date(),
                    owner,
                )
            )
        for case in session.scalars(select(Escalation).order_by(Escalation.id)):
            year.cases.append(
                (
                    matches.get(case.match_id or 0, ""),
                    case.rule,
                    case.severity.value,
                    case.push_count,
                )
            )


@pytest.fixture(scope="module")
def year(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Year]:
    tmp = tmp_path_factory.mktemp("year")
    handler = Mailbox()
    port = free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    result = Year()
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
                    "VENSKAB_VOICE_CALLS_PER_SECOND": "1000",
                    "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
                    "TELEGRAM_API_URL": telegram.url,
                    "SMTP_HOST": "127.0.0.1",
                    "SMTP_PORT": str(port),
                    "SMTP_STARTTLS": "false",
                    "MAIL_FROM": "venskab@example.org",
                },
                now_override=at(FIRST_DAY - timedelta(days=2), 10),
            )
            for kind, text in (
                ("staff", STAFF_CSV),
                ("families", FAMILIES_CSV),
                ("contacts", CONTACTS_CSV),
                ("matches", MATCHES_CSV),
            ):
                import_csv(app, tmp, kind, text)
            link_telegram(app, at(FIRST_DAY - timedelta(days=2), 11))
            result.moments += [at(FIRST_DAY - timedelta(days=2), h) for h in (10, 11)]
            result.seconds = asyncio.run(live(app, result, channels(app, twilio, telegram, port)))
            collect(app, result)
            result.twilio_messages = [(m.to, m.params.get("Body", "")) for m in twilio.messages]
            result.twilio_calls = [c.to for c in twilio.calls]
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


def channels(
    app: AppContext, twilio: FakeTwilio, telegram: FakeTelegram, smtp_port: int
) -> dict[str, Any]:
    """The real channels, as ``venskab tick`` builds them from the settings, against the fakes.
    One difference: Telegram's one-message-a-second-per-chat limit runs on the wall clock, and
    a simulated day takes a fraction of a second, so it is left out here (the global limit stays)."""
    return {
        "sms": SmsChannel(SID, TOKEN, SENDER, api_url=twilio.url, segments_per_second=None),
        "voice": VoiceChannel(SID, TOKEN, SENDER, api_url=twilio.url),
        "email": EmailChannel(
            "127.0.0.1", smtp_port, "venskab@example.org", starttls=False, clock=app.now
        ),
        "telegram": TelegramChannel(
            make_bot(DEFAULT_TOKEN, telegram.url, rate_limiter=ChatRateLimiter(per_chat_rate=0)),
            owns_bot=True,
        ),
    }


async def live(app: AppContext, year: Year, channels: dict[str, Any]) -> float:
    runtime = Runtime(app, channels=channels, sandbox=frozenset())
    began = wall.monotonic()
    moment = at(FIRST_DAY, MORNING.hour)
    end = at(LAST_DAY, 23)
    ended = False
    try:
        while moment <= end:
            if not ended and local(moment).date() >= EARLY_END[1]:
                with app.session_factory() as session:
                    match_id = session.scalars(
                        select(Match.id).where(Match.external_ref == EARLY_END[0])
                    ).one()
                app.now_override = moment
                cli(
                    app,
                    "match",
                    "end",
                    str(match_id),
                    "--by",
                    "volunteer_family",
                    "--on",
                    EARLY_END[1].isoformat(),
                )
                ended = True
            app.now_override = moment
            await runtime.tick(moment)
            year.ticks += 1
            year.moments.append(moment)
            with app.session_factory() as session:
                moment = next_moment(session, moment)
    finally:
        await runtime.close()
    return wall.monotonic() - began


# -- the README's table of each programme's year ---------------------------------------------

EXAMPLES = {"hjem-til-os": "M-01", "mentorbarn": "M-04", "familien-i-fokus": "M-05"}
AUDIENCES = {
    "volunteer family": "volunteer_family",
    "parent or contact person": "contact_person",
    "staff member": "staff",
}
CHANNEL_WORDS = {
    "telegram": "telegram",
    "email": "email",
    "sms": "sms",
    "voice": "voice",
    "task": "task",
}
STAFF_NEWS = {
    "escalation",
    "daily-digest",
}  # what staff hear of cases: bounded below, not a touchpoint


@dataclass(frozen=True)
class Row:
    touchpoint: str
    audience: str
    channels: frozenset[str]
    match: str
    first: str
    times: int


def readme_years() -> dict[str, list[Row]]:
    """Each programme's table in the README (a ``#### Name (`slug`)`` heading, then a table)."""
    tables: dict[str, list[Row]] = {}
    slug = None
    for line in README.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"#{3,4} .*\(`([a-z-]+)`\)", line)
        if heading:
            slug = heading.group(1)
            tables[slug] = []
            continue
        if slug is None:
            continue
        if line.startswith("#"):
            slug = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 6 or cells[0] in ("touchpoint", "---"):
            continue
        touchpoint, _when, whom, by, first, times = cells
        marked = re.fullmatch(r"(.+?) \((M-\d\d)\)", first)
        words = {w.strip(" ,.").lower() for w in re.split(r"[ ,/]+", by)}
        tables[slug].append(
            Row(
                touchpoint=touchpoint.strip("`"),
                audience=AUDIENCES[whom],
                channels=frozenset(CHANNEL_WORDS[w] for w in words if w in CHANNEL_WORDS),
                match=marked.group(2) if marked else EXAMPLES[slug],
                first=marked.group(1) if marked else first,
                times=int(times),
            )
        )
    return tables


def lived(year: Year, match: str) -> dict[tuple[str, str], tuple[set[str], str, int]]:
    """What one match's year held, per touchpoint and audience: channels, first moment, count."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for s in year.of(match):
        if s.touchpoint not in STAFF_NEWS:
            found[(s.touchpoint, s.audience)].append((s.channel, s.at.strftime("%Y-%m-%d %H:%M")))
    for ref, touchpoint, due, _owner in year.tasks:
        if ref == match:
            found[(touchpoint, "staff")].append(("task", due.isoformat()))
    return {
        key: ({c for c, _ in items}, min(m for _, m in items), len(items))
        for key, items in found.items()
    }


def test_each_programme_lives_the_year_its_readme_table_states(year: Year) -> None:
    print(f"\nthe year: {year.ticks} ticks in {year.seconds:.1f} s, {len(year.sent)} messages")
    tables = readme_years()
    assert set(tables) == {p.stem for p in (README.parent / "programmes").glob("*.yaml")}
    for slug, rows in tables.items():
        example = EXAMPLES[slug]
        stated = {(r.touchpoint, r.audience) for r in rows if r.match == example}
        assert stated == set(lived(year, example)), slug
        for row in rows:
            channels, first, times = lived(year, row.match)[(row.touchpoint, row.audience)]
            assert channels <= row.channels, (slug, row, channels)
            assert (first, times) == (row.first, row.times), (slug, row)


# -- what each programme's YAML says, on the calendar -------------------------------------------


def moments(sent: list[Sent]) -> list[tuple[str, str]]:
    return [(s.at.strftime("%Y-%m-%d %H:%M"), s.channel) for s in sent]


def test_sparring_invitations_come_fourteen_days_before_each_session(year: Year) -> None:
    # Hjem til Os: the first Tuesday of every other month at 19:30. The session of 6 January
    # is less than 14 days after M-01's start: invited at once, with the welcome.
    assert moments(year.of("M-01", "sparring-invite")) == [
        ("2026-01-05 18:00", "telegram"),
        ("2026-02-17 18:00", "telegram"),
        ("2026-04-21 18:00", "telegram"),
        ("2026-06-23 18:00", "telegram"),
        ("2026-08-18 18:00", "telegram"),
        ("2026-10-20 18:00", "telegram"),
    ]
    short, invitation = (s.body for s in year.of("M-01", "sparring-invite")[:2])
    assert "tirsdag den 3. marts 2026 kl. 19:30" in invitation
    assert "kort varsel, fordi I lige er startet" in short and "kort varsel" not in invitation
    assert "Det er med kort varsel" in year.of("M-02", "sparring-invite")[0].body
    # The SMS-only family gets them by SMS; matched on 24 December, its first invitation waits
    # with the welcome until the days off are over (Sunday 27 December, 10:00).
    assert moments(year.of("M-02", "sparring-invite")) == [
        ("2025-12-27 10:00", "sms"),
        ("2026-02-17 18:00", "sms"),
        ("2026-04-21 18:00", "sms"),
        ("2026-06-23 18:00", "sms"),
        ("2026-08-18 18:00", "sms"),
        ("2026-10-20 18:00", "sms"),
    ]
    # Mentorbarn: the first Wednesday of every third month at 19:00; no Telegram: by email.
    assert moments(year.of("M-04", "sparring-invite")) == [
        ("2026-03-18 18:00", "email"),
        ("2026-06-17 18:00", "email"),
        ("2026-09-23 18:00", "email"),
        ("2026-12-23 18:00", "email"),
    ]
    # Ended early on 20 May: invited until then, not after.
    assert moments(year.of("M-03", "sparring-invite")) == [
        ("2026-02-17 18:00", "telegram"),
        ("2026-04-21 18:00", "telegram"),
    ]
    assert year.of("M-05", "sparring-invite") == []  # Familien i Fokus has no sparring


def test_the_farewell_goes_by_email_to_both_and_by_sms_only_without_an_address(
    year: Year,
) -> None:
    family = year.of("M-01", "farewell-family")
    parent = year.of("M-01", "farewell-parent")
    # The parent prefers SMS, but the leaflet says the farewell is an email.
    assert [(s.recipient, s.at.strftime("%Y-%m-%d %H:%M"), s.channel) for s in family + parent] == [
        ("F-01", "2027-01-05 10:00", "email"),
        ("K-01", "2027-01-05 10:00", "email"),
    ]
    # 24 December is the anniversary: email would go that day, but this family and this parent
    # have no email address, so SMS, which waits for the days off (24-26 December) to end.
    assert moments(year.of("M-02", "farewell-family")) == [("2026-12-27 10:00", "sms")]
    assert moments(year.of("M-02", "farewell-parent")) == [("2026-12-27 10:00", "sms")]
    assert moments(year.of("M-05", "farewell-family")) == [("2027-01-06 10:00", "email")]
    assert year.of("M-05", "farewell-family")[0].body.startswith("Dear Kontaktvoksen 5")  # English
    # Ended early: no farewell, the extra child visit instead.
    assert year.of("M-03", "farewell-family") == year.of("M-03", "farewell-parent") == []
    assert [(t[1], t[2]) for t in year.tasks if t[0] == "M-03" and t[1].startswith("early")] == [
        ("early-end-child-visit", date(2026, 5, 26))  # 23 May + weekend + Whit Monday
    ]
    assert [c for c in year.cases if c[1] == "delivery_failed"] == []


def prompts(year: Year, match: str, touchpoint: str = "weekly-visit") -> list[Sent]:
    return [s for s in year.of(match, touchpoint) if not s.context.get("reminder")]


def test_visit_prompts_ask_on_the_visit_day_at_the_same_hour_across_daylight_saving_time(
    year: Year,
) -> None:
    monday = prompts(year, "M-01")
    assert len(monday) == 52
    assert {(s.at.weekday(), s.at.strftime("%H:%M"), s.channel) for s in monday} == {
        (0, "19:00", "telegram")
    }
    assert monday[0].at.date() == date(2026, 1, 12) and monday[-1].at.date() == date(2027, 1, 4)
    offsets = {s.at.utcoffset() for s in monday}
    assert offsets == {timedelta(hours=1), timedelta(hours=2)}  # winter and summer time
    # Every other Tuesday for Familien i Fokus, from the second week.
    tuesday = prompts(year, "M-05", "visit-check")
    assert len(tuesday) == 26 and tuesday[0].at.date() == date(2026, 1, 13)
    assert {(s.at.date() - tuesday[0].at.date()).days % 14 for s in tuesday} == {0}
    # Sundays by SMS: the weekend window closes at 18:00, so the prompt asks at 17:59 that day;
    # on Easter Sunday and Whit Sunday (and the Monday after) no SMS goes out at all, so the
    # prompt comes on the Tuesday and names the day.
    sunday = prompts(year, "M-02")
    held = [s for s in sunday if s.at.weekday() != 6]
    assert {(s.at.strftime("%H:%M"), s.channel) for s in sunday if s not in held} == {
        ("17:59", "sms")
    }
    assert moments(held) == [("2026-04-07 08:00", "sms"), ("2026-05-26 08:00", "sms")]
    assert all("besøg søndag?" in s.body and "i dag" not in s.body for s in held)


def test_every_reminder_comes_its_interval_after_its_prompt_was_sent(year: Year) -> None:
    checked = 0
    for match in ("M-01", "M-02", "M-03", "M-04", "M-05"):
        sent = [s for s in year.sent if s.match == match]
        originals = {
            (s.touchpoint, s.recipient, s.occurrence): s
            for s in sent
            if not s.context.get("reminder")
        }
        for s in sent:
            number = int(s.context.get("reminder") or 0)
            if not number:
                continue
            base = s.occurrence.rsplit(":r", 1)[0]
            original = originals[(s.touchpoint, s.recipient, base)]
            programme = PROGRAMMES[SLUGS[match]]
            after = programme.touchpoint(s.touchpoint).reminders[number - 1].after
            earliest = after.add(original.at.replace(tzinfo=None))
            assert s.at.replace(tzinfo=None) >= earliest, (match, s.touchpoint, s.at, original.at)
            checked += 1
    assert checked > 200


def sms_allowed(moment: datetime) -> bool:
    """The default window: 08-20 on weekdays, 10-18 at weekends, none on a holiday."""
    if holiday_name(moment.date()):
        return False
    if moment.weekday() >= 5:
        return time(10) <= moment.time() < time(18)
    return time(8) <= moment.time() < time(20)


def test_no_sms_or_call_in_quiet_hours_or_on_a_holiday_and_nothing_sent_twice(
    year: Year,
) -> None:
    texts = [s for s in year.sent if s.channel in ("sms", "voice")]
    assert texts and [(s.match, s.touchpoint, s.at) for s in texts if not sms_allowed(s.at)] == []
    assert holiday_name(date(2026, 12, 24)) and not holiday_name(date(2026, 5, 1))
    # What the providers received is exactly what the outbox says was sent, once.
    by_channel = Counter(s.channel for s in year.sent)
    assert len(year.twilio_messages) == by_channel["sms"]
    assert len(year.twilio_calls) == by_channel["voice"] == 1  # Familien i Fokus, half way
    assert len(year.telegram) == by_channel["telegram"]
    assert len(year.emails) == by_channel["email"]
    once = Counter(
        (s.match, s.touchpoint, s.occurrence, s.recipient, s.channel, s.at) for s in year.sent
    )
    assert [key for key, n in once.items() if n > 1] == []
    touchpoints = [s for s in year.sent if s.touchpoint not in STAFF_NEWS]
    twice = Counter((s.match, s.touchpoint, s.occurrence, s.recipient) for s in touchpoints)
    assert [key for key, n in twice.items() if n > 1] == []


def test_staff_hear_of_each_case_no_more_often_than_the_escalation_policy_allows(
    year: Year,
) -> None:
    assert year.cases  # the families never answer: cases are raised
    for match, rule, severity, pushes in year.cases:
        policy = PROGRAMMES[SLUGS[match]].escalation.policy
        steps = getattr(policy, severity)
        assert 1 <= pushes <= len(steps), (match, rule, pushes)
    # Each push is one message (Telegram and email at the same moment) to the staff member:
    # never more push moments than the cases of their matches were allowed.
    alerts = [s for s in year.sent if s.touchpoint == "escalation"]
    for staff in ("S-01", "S-02"):
        mine = {s.match for s in year.of_staff(staff)} - {None}
        allowed = sum(c[3] for c in year.cases if c[0] in mine)
        pushed = {s.at for s in alerts if s.recipient == staff}
        assert 0 < len(pushed) <= allowed, staff
    # The digest: at most one a day per staff member and channel, and only on working days.
    digests = [s for s in year.sent if s.touchpoint == "daily-digest"]
    per_day = Counter((s.recipient, s.channel, s.at.date()) for s in digests)
    assert digests and max(per_day.values()) == 1
    assert [s.at.date() for s in digests if s.at.weekday() >= 5 or holiday_name(s.at.date())] == []
    # Normal cases only: the coordinator is never pushed.
    assert {s.recipient for s in alerts} <= {"S-01", "S-02"}


INTERNAL = re.compile(
    r"\{\{|\{%|\bNone\b|touchpoint:|audience:|\bref:|until:|since:|\+00:00|\bUTC\b|\['|\d{4}-\d\d-\d\dT"
)
ENGLISH = ("could not be delivered", "parent-sample", "baseline", "Escalation", "overdue")


def test_every_message_of_the_year_reads_as_text_in_its_language(year: Year) -> None:
    """Staff alerts and digests, like every family's and parent's message: rendered with real
    data, no template syntax, internal identifiers, Python reprs or UTC times; Danish staff
    get Danish."""
    unreadable = {
        (s.touchpoint, s.body[max(found.start() - 60, 0) : found.end() + 20])
        for s in year.sent
        if (found := INTERNAL.search(s.body))
    }
    assert sorted(unreadable) == []
    staff = [s for s in year.sent if s.audience == "staff"]
    assert len(staff) > 50
    english = [(s.touchpoint, s.body) for s in staff if any(w in s.body for w in ENGLISH)]
    assert english == []
    assert all(not s.body.strip().startswith(("Hi ", "Dear ")) for s in staff)
    digests = [s.body for s in staff if s.touchpoint == "daily-digest"]
    assert any(
        "Barn B & Venskabsfamilie 2: Spørgeskema ved start, sendt 27.12" in d for d in digests
    )


def test_every_row_written_in_the_year_is_stamped_by_the_tick_that_wrote_it(year: Year) -> None:
    """One clock: the tick's moment (plus the seconds the tick itself took), never the wall
    clock, for outbox rows, tasks, cases, their pushes and the audit log."""
    moments = sorted(year.moments)
    assert len(year.stamps) > 1000
    for table, stamp in year.stamps:
        index = bisect.bisect_right(moments, stamp) - 1
        assert index >= 0 and stamp - moments[index] < timedelta(minutes=2), (table, stamp)
