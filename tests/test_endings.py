"""Endings as a workflow, lived through the real bot and channels against their fakes.

Four Hjem til Os matches come in by CSV import and the runtime ticks (planner, watch rules,
dispatcher) every morning and at every moment something is due, from January to April 2026,
with an injected clock. The real SMS channel sends to the fake Twilio server, email to an SMTP
server (aiosmtpd), and Telegram through the real bot to the fake Bot API:

- M-01's volunteer family ends early with ``/stop`` in the bot: the parent hears from us the
  next day that it is not the child's fault, staff get the extra child visit and the re-match
  question, and the child is re-matched with another family (``venskab match rematch``);
- M-02's family never answers: after the programme's six weeks of silence a case proposes to
  mark it unreachable; staff confirm it (``venskab match end --by unreachable``), which resolves
  the case and gives two call tasks;
- M-03 answers its visit prompts in the bot and reaches its natural end at the anniversary:
  staff end it as ``term`` that morning, and the farewell still goes to both;
- M-04's family stops five days before its anniversary, after the farewell was planned: the
  farewell is cancelled, never sent, and the early-end steps come instead.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from followup.escalations import raise_escalation
from followup.invites import create_invite, redeem_invite
from scheduler.channels.base import Channel
from scheduler.channels.email import EmailChannel
from scheduler.channels.sms import SmsChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.channels.voice import VoiceChannel
from store import clock as store_clock
from store.models import (
    EndedBy,
    EndReason,
    Escalation,
    EscalationStatus,
    Match,
    MatchStatus,
    OutboxMessage,
    OutboxStatus,
    Task,
    VolunteerFamily,
)
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.support import staff_app
from tests.support.bot_harness import BotHarness, Clock, app_context, callback_data
from tests.support.cast import make_match
from tests.test_followup import Mailbox
from tests.test_year_simulation import at, local, next_moment
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.demo import replay, seed
from venskab.runtime import Runtime

ZONE = ZoneInfo("Europe/Copenhagen")
SID = "AC" + "8" * 32
TOKEN = "twilio-endings-token"
SENDER = "+4520123400"
FIRST_DAY = date(2026, 1, 5)
LAST_DAY = date(2026, 3, 31)

STAFF_CSV = """\
ref,name,role,region,email,phone,locale
S-01,Procesleder Hovedstaden,procesleder,Hovedstaden,procesleder1@example.org,+45 2012 3401,da
"""
FAMILIES_CSV = """\
ref,name,contact_name,phone,email,region,locale
F-01,Venskabsfamilie 1,Kontaktvoksen 1,+45 2012 3411,familie1@example.org,Hovedstaden,da
F-02,Venskabsfamilie 2,Kontaktvoksen 2,+45 2012 3412,,Hovedstaden,da
F-03,Venskabsfamilie 3,Kontaktvoksen 3,+45 2012 3413,familie3@example.org,Hovedstaden,da
F-04,Venskabsfamilie 4,Kontaktvoksen 4,+45 2012 3414,familie4@example.org,Hovedstaden,da
F-05,Venskabsfamilie 5,Kontaktvoksen 5,+45 2012 3415,familie5@example.org,Hovedstaden,da
"""
CONTACTS_CSV = """\
ref,name,relation,phone,email,locale,preferred_channel
K-01,Forælder 1,parent,+45 2012 3421,foraelder1@example.org,da,sms
K-02,Forælder 2,parent,+45 2012 3422,,da,
K-03,Forælder 3,parent,+45 2012 3423,foraelder3@example.org,da,sms
K-04,Forælder 4,parent,+45 2012 3424,foraelder4@example.org,da,sms
"""
MATCHES_CSV = """\
ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,start_date,visit_weekday,visit_time,cadence,sibling
M-01,hjem-til-os,Barn A,2018,F-01,K-01,S-01,Hovedstaden,2026-01-05,monday,15:30,,no
M-02,hjem-til-os,Barn B,2017,F-02,K-02,S-01,Hovedstaden,2026-01-05,tuesday,15:30,,no
M-03,hjem-til-os,Barn C,2019,F-03,K-03,S-01,Hovedstaden,2025-03-02,wednesday,16:00,,no
M-04,hjem-til-os,Barn D,2016,F-04,K-04,S-01,Hovedstaden,2025-03-09,thursday,16:00,,no
"""
CHATS = {"F-01": 6001, "F-03": 6003, "F-04": 6004, "F-05": 6005}
STOP_M01 = datetime(2026, 2, 11, 20, 0, tzinfo=ZONE)
STOP_M04 = datetime(2026, 3, 4, 20, 0, tzinfo=ZONE)
TERM_M03 = datetime(2026, 3, 2, 7, 0, tzinfo=ZONE)
REMATCH_M01 = datetime(2026, 3, 10, 9, 0, tzinfo=ZONE)


def cli(app: AppContext, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), obj=app)
    assert result.exit_code == 0, result.output
    return result.output


@dataclass
class Lived:
    """What the months held, read back from the database and the fakes."""

    ids: dict[str, int] = field(default_factory=dict)  # match ref -> id
    rematch_id: int = 0
    unreachable_case_on: date | None = None
    sms: list[tuple[str, str]] = field(default_factory=list)  # (to, body) at the fake Twilio
    emails: list[tuple[str, str, str]] = field(default_factory=list)  # (to, subject, body)
    telegram: list[tuple[int, str]] = field(default_factory=list)
    stop_answers: list[str] = field(default_factory=list)
    report: list[dict[str, str]] = field(default_factory=list)
    show: str = ""


def import_all(app: AppContext, tmp: Path) -> None:
    for kind, text in (
        ("staff", STAFF_CSV),
        ("families", FAMILIES_CSV),
        ("contacts", CONTACTS_CSV),
        ("matches", MATCHES_CSV),
    ):
        path = tmp / f"{kind}.csv"
        path.write_text(text, encoding="utf-8")
        cli(app, "import", kind, str(path))


def link_chats(app: AppContext, now: datetime) -> None:
    with app.transaction() as session:
        for ref, chat in CHATS.items():
            family = session.scalars(
                select(VolunteerFamily).where(VolunteerFamily.external_ref == ref)
            ).one()
            token, _ = create_invite(session, "family", family.id, now)
            redeem_invite(session, token, chat, now)


def stop_in_the_bot(bot: BotHarness, chat: int, why: str) -> list[str]:
    """The family types /stop, confirms with the button, then says why."""
    asked = bot.say(chat, "/stop")
    confirm = next(d for d in callback_data(asked.of("sendMessage")[-1]) if d.endswith("|y"))
    done = bot.press(chat, confirm)
    reason = bot.say(chat, why)
    return [*asked.texts, *done.texts, *reason.texts]


def answer_visit_prompts(bot: BotHarness, sent: Any, chat: int) -> None:
    """The family presses "visited" on every visit prompt the tick brought to its chat."""
    for call in sent.calls:
        if call.method != "sendMessage" or call.params.get("chat_id") != chat:
            continue
        data = callback_data(call.params)
        if data and data[0].split("|")[1] == "v" and data[0].endswith("|y"):
            bot.press(chat, data[0], int(call.result["message_id"]))


def unreachable_case(session: Session, match_id: int) -> Escalation | None:
    return session.scalars(
        select(Escalation).where(Escalation.match_id == match_id, Escalation.rule == "unreachable")
    ).first()


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("endings")


@pytest.fixture
def lived(
    engine: Engine, db_url: str, session_factory: sessionmaker[Session], tmp: Path
) -> Iterator[tuple[Lived, sessionmaker[Session]]]:
    mailbox = Mailbox()
    port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=port)
    smtp.start()
    result = Lived()
    try:
        with FakeTwilio(TOKEN, account_sid=SID) as twilio, FakeTelegram() as telegram:
            app = app_context(
                db_url,
                engine,
                telegram,
                TWILIO_ACCOUNT_SID=SID,
                TWILIO_AUTH_TOKEN=TOKEN,
                TWILIO_FROM=SENDER,
                TWILIO_API_URL=twilio.url,
                VENSKAB_SMS_SEGMENTS_PER_SECOND="1000",
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=str(port),
                SMTP_STARTTLS="false",
                MAIL_FROM="venskab@example.org",
            )
            setup = at(FIRST_DAY - timedelta(days=3), 10)
            app.now_override = setup
            # Rows are stamped by the injected clock (the app was handed the test's engine).
            store_clock.install(app.now, lambda: "Europe/Copenhagen")
            import_all(app, tmp)
            link_chats(app, setup)
            with app.session_factory() as session:
                result.ids = {m.external_ref or "": m.id for m in session.scalars(select(Match))}
            # M-03's staff member spoke with the family just before the period: a sign of life.
            cli(
                app,
                "contact",
                "add",
                str(result.ids["M-03"]),
                "--with",
                "family",
                "--kind",
                "call",
                "--on",
                (FIRST_DAY - timedelta(days=3)).isoformat(),
            )
            bot = BotHarness(telegram, app, Clock(setup)).start()
            try:
                live(app, bot, twilio, port, result)
            finally:
                bot.close()
            result.sms = [(m.to, m.params.get("Body", "")) for m in twilio.messages]
            result.telegram = [
                (int(p["chat_id"]), p["text"]) for _, p in telegram.sent("sendMessage")
            ]
            result.emails = [(str(m["To"]), str(m["Subject"]), _plain(m)) for m in mailbox.messages]
            app.now_override = at(LAST_DAY, 12)
            report = cli(app, "report", "matches", "--from", "2026-01-01", "--to", "2026-03-31")
            result.report = list(csv.DictReader(io.StringIO(report)))
            result.show = cli(app, "match", "show", str(result.rematch_id))
            assert twilio.violations == [] and telegram.violations == []
            app.close()
        yield result, session_factory
    finally:
        smtp.stop()


def _plain(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return str(part.get_content()) if part is not None else ""


def live(app: AppContext, bot: BotHarness, twilio: FakeTwilio, port: int, result: Lived) -> None:
    """Tick from the first morning to the last day, doing what the people do on their days."""

    async def real_channels() -> Runtime:
        assert bot.application is not None
        channels: dict[str, Channel] = {
            "sms": SmsChannel(SID, TOKEN, SENDER, api_url=twilio.url, segments_per_second=None),
            "voice": VoiceChannel(SID, TOKEN, SENDER, api_url=twilio.url),
            "email": EmailChannel(
                "127.0.0.1", port, "venskab@example.org", starttls=False, clock=app.now
            ),
            "telegram": TelegramChannel(bot.application.bot),
        }
        return Runtime(app, channels=channels, sandbox=frozenset())

    sandboxed = bot.runtime
    assert sandboxed is not None
    bot.runtime = bot.call(real_channels())
    bot.call(sandboxed.close())
    events = sorted(
        [
            (STOP_M01, "stop M-01"),
            (STOP_M04, "stop M-04"),
            (TERM_M03, "term M-03"),
            (REMATCH_M01, "rematch M-01"),
        ]
    )
    moment = at(FIRST_DAY, 7)
    end = at(LAST_DAY, 23)
    confirmed = False
    while moment <= end:
        while events and events[0][0] <= moment:
            when, what = events.pop(0)
            app.now_override = bot.clock.now = when
            if what == "stop M-01":
                result.stop_answers = stop_in_the_bot(bot, CHATS["F-01"], "Vi flytter til Aarhus")
            elif what == "stop M-04":
                stop_in_the_bot(bot, CHATS["F-04"], "Vi har ikke længere tid")
            elif what == "term M-03":
                cli(app, "match", "end", str(result.ids["M-03"]), "--by", "term")
            else:
                out = cli(
                    app,
                    "match",
                    "rematch",
                    str(result.ids["M-01"]),
                    "--family",
                    "F-05",
                    "--start",
                    "2026-03-16",
                )
                result.rematch_id = int(out.split()[1].rstrip(":"))
        app.now_override = moment
        sent = bot.tick(moment)
        answer_visit_prompts(bot, sent, CHATS["F-03"])
        with app.session_factory() as session:
            case = unreachable_case(session, result.ids["M-02"])
            if case is not None and result.unreachable_case_on is None:
                result.unreachable_case_on = local(case.created_at).date()
            if case is not None and not confirmed and case.last_notified_at is not None:
                # Staff got the alert, tried to call, in vain, and confirm the proposal.
                cli(app, "match", "end", str(result.ids["M-02"]), "--by", "unreachable")
                confirmed = True
            moment = next_moment(session, moment)


def sent_rows(session: Session, match_id: int, touchpoint: str) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.match_id == match_id,
                OutboxMessage.touchpoint_id == touchpoint,
                OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
            )
            .order_by(OutboxMessage.id)
        )
    )


def tasks_of(session: Session, match_id: int) -> dict[str, list[date]]:
    found: dict[str, list[date]] = {}
    for task in session.scalars(
        select(Task).where(Task.match_id == match_id).order_by(Task.due_at)
    ):
        found.setdefault(task.touchpoint_id or "", []).append(local(task.due_at).date())
    return found


def test_endings_each_run_their_steps_and_a_rematch_follows(
    lived: tuple[Lived, sessionmaker[Session]],
) -> None:
    year, factory = lived
    m01, m02, m03, m04 = (year.ids[ref] for ref in ("M-01", "M-02", "M-03", "M-04"))
    with factory() as session:
        # M-01: ended by the volunteer family in the bot, with its reason in its own words.
        first = session.get(Match, m01)
        assert first is not None
        assert (first.status, first.ended_by, first.end_date) == (
            MatchStatus.ENDED,
            EndedBy.VOLUNTEER_FAMILY,
            date(2026, 2, 11),
        )
        assert first.end_reason == "Vi flytter til Aarhus"
        assert any("Vi har noteret, at I ønsker at stoppe" in t for t in year.stop_answers)
        # The parent hears it from us the next morning by SMS: not the child's fault, we call.
        (parent,) = sent_rows(session, m01, "early-end-parent")
        assert parent.channel.value == "sms"
        assert local(parent.sent_at or parent.due_at) == at(date(2026, 2, 12), 10)
        (body,) = [b for to, b in year.sms if to == "+4520123421" and "stoppe" in b]
        assert "Venskabsfamilie 1 har måttet stoppe besøgene med Barn A" in body
        assert "Det er ikke Barn As skyld" in body and "ny venskabsfamilie" in body
        # Staff: the extra child visit (3 days after: a Saturday, so the Monday) and the
        # re-match question a week after; each once, however many ticks passed.
        m01_tasks = tasks_of(session, m01)
        assert m01_tasks["early-end-child-visit"] == [date(2026, 2, 16)]
        assert m01_tasks["rematch-question"] == [date(2026, 2, 18)]
        # No visit prompt after the end, and no farewell (its anniversary is next January).
        prompts = sent_rows(session, m01, "weekly-visit")
        assert prompts and max(local(p.due_at).date() for p in prompts) < date(2026, 2, 11)
        assert sent_rows(session, m01, "farewell-family") == []

        # The re-match: a new match for the same child with the new family, naming M-01.
        second = session.get(Match, year.rematch_id)
        assert second is not None
        assert (second.previous_match_id, second.child_id, second.start_date) == (
            m01,
            first.child_id,
            date(2026, 3, 16),
        )
        assert [c.id for c in second.contacts] == [c.id for c in first.contacts]
        assert second.volunteer_family.external_ref == "F-05"
        (welcome,) = sent_rows(session, second.id, "welcome")
        assert welcome.channel.value == "telegram"
        assert any(chat == CHATS["F-05"] and "Barn A" in text for chat, text in year.telegram)
        assert re.search(rf"genmatch af +match {m01}\n", year.show), year.show

        # M-02: six weeks without a word from the family: a case proposes "unreachable"...
        assert year.unreachable_case_on == date(2026, 2, 16)
        staff_mail = [e for e in year.emails if e[0] == "procesleder1@example.org"]
        assert any(
            "Vi har ikke hørt fra Venskabsfamilie 2 i 42 dage" in body
            and "markér forløbet som uopnåeligt" in body
            for _to, _subject, body in staff_mail
        ), [s for _t, s, _b in staff_mail]
        # ... staff confirmed it: the case is resolved, two calls follow, nothing else is sent.
        silent = session.get(Match, m02)
        assert silent is not None
        assert (silent.ended_by, silent.end_reason_code, silent.end_date) == (
            EndedBy.UNREACHABLE,
            EndReason.NO_CONTACT,
            date(2026, 2, 16),
        )
        case = unreachable_case(session, m02)
        assert case is not None and case.status == EscalationStatus.RESOLVED
        m02_tasks = tasks_of(session, m02)
        assert m02_tasks["unreachable-call-1"] == [date(2026, 2, 17)]
        assert m02_tasks["unreachable-call-2"] == [date(2026, 2, 23)]
        assert "early-end-child-visit" not in m02_tasks and "rematch-question" not in m02_tasks
        assert sent_rows(session, m02, "early-end-parent") == []
        assert max(local(p.due_at).date() for p in sent_rows(session, m02, "weekly-visit")) < (
            date(2026, 2, 16)
        )

        # M-03: the family answered in the bot, so no case proposed "unreachable"; ended as
        # term on its anniversary morning, it gets the farewell by email at 10:00, both of them.
        assert unreachable_case(session, m03) is None
        natural = session.get(Match, m03)
        assert natural is not None
        assert (natural.ended_by, natural.end_reason_code) == (EndedBy.TERM, EndReason.COMPLETED)
        for touchpoint in ("farewell-family", "farewell-parent"):
            (farewell,) = sent_rows(session, m03, touchpoint)
            assert farewell.channel.value == "email"
            assert local(farewell.sent_at or farewell.due_at) == at(date(2026, 3, 2), 10)
        assert any(to == "familie3@example.org" and "Farvel" in s for to, s, _ in year.emails)
        assert "early-end-child-visit" not in tasks_of(session, m03)

        # M-04: stopped five days before the anniversary, after its farewell was planned: the
        # farewell is cancelled and never sent; the early-end steps come instead.
        farewells = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.match_id == m04,
                    OutboxMessage.touchpoint_id.in_(["farewell-family", "farewell-parent"]),
                )
            )
        )
        assert farewells and {f.status for f in farewells} == {OutboxStatus.CANCELLED}
        assert not any(to == "familie4@example.org" and "Farvel" in s for to, s, _ in year.emails)
        assert tasks_of(session, m04)["early-end-child-visit"] == [date(2026, 3, 9)]
        (early,) = sent_rows(session, m04, "early-end-parent")
        assert local(early.sent_at or early.due_at) == at(date(2026, 3, 5), 10)

    # The matches report counts who ended each match and why, and the re-match both ways.
    rows = {int(r["match_id"]): r for r in year.report}
    assert (rows[m01]["ended_by"], rows[m01]["rematched_as"]) == (
        "volunteer_family",
        str(year.rematch_id),
    )
    assert (rows[m02]["ended_by"], rows[m02]["end_reason"]) == ("unreachable", "no_contact")
    assert (rows[m03]["ended_by"], rows[m03]["end_reason"]) == ("term", "completed")
    new = rows[year.rematch_id]
    assert (new["rematch"], new["previous_match_id"], new["status"]) == (
        "true",
        str(m01),
        "active",
    )
    assert rows[m01]["rematch"] == "false" and rows[m01]["previous_match_id"] == ""


# -- the staff web app's match page ---------------------------------------------------------------

_served = staff_app._served
world = staff_app.world


def test_staff_end_a_match_as_unreachable_and_re_match_the_child_on_its_page(
    world: staff_app.World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        silent = session.get(Match, world.match)
        assert silent is not None
        # A case proposes it (the watch rule's), shown on the match page with its button.
        raise_escalation(
            session,
            silent,
            "unreachable",
            now=staff_app.NOW,
            evidence={"ref": "silent:2026-03-02", "days": 43, "last_visit": "2026-03-02"},
        )
        free = VolunteerFamily(
            name="Venskabsfamilie 9",
            contact_name="Kontaktvoksen",
            region="Hovedstaden",
            email="krogh@example.org",
        )
        elsewhere = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.region == "Midtjylland")
        ).one()
        session.add(free)
        session.flush()
        free_id, elsewhere_id = free.id, elsewhere.id
    with world.client("procesleder") as client:
        page = client.get(f"/matches/{world.match}")
        assert "Markér som uopnåelig" in page.text
        token = staff_app.csrf_of(page.text)
        # Who ended it but neither a reason nor words: refused, nothing changes.
        refused = client.post(
            f"/matches/{world.match}/end",
            data={"csrf": token, "by": "organisation", "on": "2026-04-14"},
        )
        assert refused.headers["location"].endswith("error=need_reason")
        forged = client.post(
            f"/matches/{world.match}/end",
            data={"csrf": token, "by": "unreachable", "why": "bored", "on": "2026-04-14"},
        )
        assert forged.headers["location"].endswith("error=need_reason")
        with session_factory() as session:
            assert session.get(Match, world.match).status == MatchStatus.ACTIVE  # type: ignore[union-attr]
        done = client.post(
            f"/matches/{world.match}/end",
            data={"csrf": token, "by": "unreachable", "why": "no_contact", "on": "2026-04-14"},
        )
        assert done.status_code == 303 and done.headers["location"].endswith("done=end")
        ended = client.get(f"/matches/{world.match}").text
        assert "familien kunne ikke nås: ingen kontakt" in ended
        assert "Markér som uopnåelig" not in ended
        # The re-match form offers the region's free families, not another region's.
        assert f'<option value="{free_id}">Venskabsfamilie 9</option>' in ended
        assert f'<option value="{elsewhere_id}">' not in ended
        other = client.post(
            f"/matches/{world.match}/rematch",
            data={"csrf": token, "family": str(elsewhere_id), "start": "2026-05-04"},
        )
        assert other.headers["location"].endswith("error=need_family")
        made = client.post(
            f"/matches/{world.match}/rematch",
            data={"csrf": token, "family": str(free_id), "start": "2026-05-04"},
        )
        assert made.headers["location"].endswith("done=rematch")
        with session_factory() as session:
            new = session.scalars(select(Match).where(Match.previous_match_id == world.match)).one()
            old = session.get(Match, world.match)
            assert old is not None and (old.ended_by, old.end_reason_code) == (
                EndedBy.UNREACHABLE,
                EndReason.NO_CONTACT,
            )
            assert (new.volunteer_family_id, new.child_id, new.start_date) == (
                free_id,
                old.child_id,
                date(2026, 5, 4),
            )
            case = unreachable_case(session, world.match)
            assert case is not None and case.status == EscalationStatus.RESOLVED
        again = client.get(f"/matches/{world.match}").text
        assert f'href="/matches/{new.id}">Barnet er genmatchet: se match {new.id}' in again
        assert f"Genmatch efter match {world.match}" in client.get(f"/matches/{new.id}").text


# -- the demo data ----------------------------------------------------------------------------------


async def test_the_demo_holds_an_early_end_with_its_re_match_and_a_proposed_unreachable(
    db_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, _engine=engine)
    seed(app, now)
    await replay(app, now, Runtime)
    with session_factory() as session:
        by_child: dict[str, list[Match]] = {}
        for m in session.scalars(select(Match).order_by(Match.id)):
            by_child.setdefault(m.child.first_name, []).append(m)
        first, second = by_child["Barn F"]
        assert (first.ended_by, first.end_reason_code) == (
            EndedBy.VOLUNTEER_FAMILY,
            EndReason.NO_TIME,
        )
        assert second.previous_match_id == first.id and second.status == MatchStatus.ACTIVE
        assert {"early-end-child-visit", "rematch-question"} <= set(tasks_of(session, first.id))
        assert len(sent_rows(session, first.id, "early-end-parent")) == 1
        (silent,) = by_child["Barn G"]
        case = unreachable_case(session, silent.id)
        assert case is not None and case.status != EscalationStatus.RESOLVED
        # The other demo families answer their prompts: nobody proposes them unreachable.
        others = [m.id for name, ms in by_child.items() if name != "Barn G" for m in ms]
        assert all(unreachable_case(session, match_id) is None for match_id in others)


# -- the command line's answers to what does not fit ------------------------------------------------


def test_a_re_match_that_does_not_fit_is_one_clear_line_and_writes_nothing(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match_id = match.id
        match.volunteer_family.external_ref = own = "F-OWN"
        session.add(
            VolunteerFamily(
                name="Venskabsfamilie 2",
                contact_name="Kontaktvoksen 2",
                email="familie2@example.org",
                external_ref="F-NEW",
            )
        )
    now = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    runs = [
        (
            ["match", "rematch", str(match_id), "--family", "F-NEW", "--start", "2026-06-08"],
            f"match {match_id} er ikke afsluttet: afslut det, før barnet får et nyt match",
        ),
        (["match", "end", str(match_id), "--by", "unreachable", "--why", "bored"], "'bored'"),
    ]
    refused(db_url, now, runs)
    assert (
        cli_at(
            db_url,
            now,
            "match",
            "end",
            str(match_id),
            "--by",
            "child_family",
            "--why",
            "moved",
            "--reason",
            "Familien flytter",
            "--on",
            "2026-05-29",
        ).exit_code
        == 0
    )
    runs = [
        (
            ["match", "rematch", str(match_id), "--family", "F-NONE", "--start", "2026-06-08"],
            "--family: der er ingen venskabsfamilie med ref 'F-NONE'",
        ),
        (
            ["match", "rematch", str(match_id), "--family", own, "--start", "2026-06-08"],
            "et nyt match skal være med en anden venskabsfamilie",
        ),
        (
            ["match", "rematch", str(match_id), "--family", "F-NEW", "--start", "2026-05-01"],
            "det nye match skal starte 2026-05-29 eller senere",
        ),
        (
            [
                "match",
                "rematch",
                str(match_id),
                "--family",
                "F-NEW",
                "--start",
                "2026-06-08",
                "--time",
                "25:00",
            ],
            "--time: '25:00' er ikke et klokkeslæt som 16:00",
        ),
    ]
    refused(db_url, now, runs)
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Match)) == 1
        ended = session.get(Match, match_id)
        assert ended is not None
        assert (ended.ended_by, ended.end_reason_code, ended.end_reason) == (
            EndedBy.CHILD_FAMILY,
            EndReason.MOVED,
            "Familien flytter",
        )
    made = cli_at(
        db_url,
        now,
        "match",
        "rematch",
        str(match_id),
        "--family",
        "F-NEW",
        "--start",
        "2026-06-08",
        "--weekday",
        "thursday",
        "--time",
        "16:30",
    )
    assert made.exit_code == 0, made.output
    again = cli_at(
        db_url, now, "match", "rematch", str(match_id), "--family", "F-NEW", "--start", "2026-06-08"
    )
    assert (
        again.exit_code == 2 and f"match {match_id} har allerede fået et nyt match" in again.output
    )
    with session_factory() as session:
        new = session.scalars(select(Match).where(Match.previous_match_id == match_id)).one()
        assert (new.visit_weekday, new.visit_time) == (3, time(16, 30))


def refused(db_url: str, now: datetime, runs: list[tuple[list[str], str]]) -> None:
    """Each command line fails with exit status 2 and says what is wrong."""
    for args, said in runs:
        result = cli_at(db_url, now, *args)
        assert result.exit_code == 2 and said in result.output, result.output


def cli_at(db_url: str, now: datetime, *args: str) -> Any:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=now)
    try:
        return CliRunner().invoke(main, list(args), obj=app)
    finally:
        app.close()
