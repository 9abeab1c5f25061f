"""A year around one Hjem til Os match, lived through the real bot and channels (issue #18).

One child is referred and waits, two volunteer families wait, and the runtime ticks (planner,
waiting pass, watch rules, dispatcher) every morning and at every moment something is due, from
January to the end of November 2026, with an injected clock. SMS goes to the fake Twilio server,
email to an SMTP server (aiosmtpd), and Telegram through the real bot to the fake Bot API. On
their days the people do what they do:

- the child (Barn H) and the first family wait and hear from us every six weeks; staff get a
  task after twelve weeks; the child is matched with the first family by CSV import, which
  takes both off the waiting list;
- an adult of the first family has certificates that run out mid-match: staff are told 60 days
  ahead, on the match;
- the family answers its visit prompts in the bot and sends the parent a greeting with a photo,
  which the parent (who agreed to photos) gets by email with the photo attached;
- asked a week before each school holiday, the family keeps visiting in the summer and pauses
  in the autumn holiday (week 42): no visit prompt that week;
- three months in, the family asks the child the child's-voice questions in the bot;
- the family stops with ``/stop``: the parent hears from us the next morning, staff get the
  extra child visit and the re-match question, and the child is re-matched with the second
  family, which has waited all along;
- the reports show the waiting list, both matches (the re-match both ways) and the child's
  voice.
"""

from __future__ import annotations

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
from store import clock as store_clock
from store.models import (
    Base,
    ContactPerson,
    Match,
    MatchPause,
    OutboxMessage,
    OutboxStatus,
    Staff,
    Task,
    VolunteerFamily,
)
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.support.bot_harness import BotHarness, Clock, Sent, app_context, callback_data
from tests.test_endings import answer_visit_prompts, stop_in_the_bot
from tests.test_followup import Mailbox
from tests.test_moments import jpeg
from tests.test_year_simulation import SENDER, SID, TOKEN, at, channels, local, next_moment
from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.runtime import Runtime

FIRST_DAY = date(2026, 1, 5)
LAST_DAY = date(2026, 11, 30)
MATCH_DAY = date(2026, 4, 20)

STAFF_CSV = """\
ref,name,role,region,email,phone,locale
S-01,Procesleder Hovedstaden,procesleder,Hovedstaden,procesleder1@example.org,+45 2012 3401,da
S-03,Koordinator Hovedstaden,coordinator,Hovedstaden,koordinator@example.org,,da
"""
# F-20 waits from 5 January and is matched on 20 April; F-21 waits from 2 February until the
# re-match in November. Both have Telegram.
FAMILIES_CSV = """\
ref,name,contact_name,phone,email,region,locale,status,status_since,programme
F-20,Venskabsfamilie 20,Kontaktvoksen 20,+45 2012 3620,f20@example.org,Hovedstaden,da,waiting,2026-01-05,hjem-til-os
F-21,Venskabsfamilie 21,Kontaktvoksen 21,+45 2012 3621,f21@example.org,Hovedstaden,da,waiting,2026-02-02,hjem-til-os
"""
# The parent reads email (and has a phone for what must go by SMS).
CONTACTS_CSV = """\
ref,name,relation,phone,email,locale,preferred_channel
K-20,Forælder H,parent,+45 2012 3630,foraelder.h@example.org,da,email
"""
REFERRALS_CSV = """\
ref,programme,child_name,child_birth_year,contact_ref,staff_ref,region,status,status_since
R-20,hjem-til-os,Barn H,2018,K-20,S-01,Hovedstaden,waiting,2026-01-19
"""
# Voksen C's certificates of 1 August 2024 run out on 1 August 2026, mid-match.
HOUSEHOLD_CSV = """\
family_ref,first_name,birth_year,child_certificate_on,criminal_record_on
F-20,Voksen C,1980,2024-08-01,2024-08-01
F-21,Voksen D,1975,2025-11-10,2025-11-10
"""
MATCHES_CSV = """\
ref,programme,child_name,child_birth_year,family_ref,contact_refs,staff_ref,region,start_date,visit_weekday,visit_time,referral_ref
M-20,hjem-til-os,Barn H,2018,F-20,K-20,S-01,Hovedstaden,2026-04-20,monday,16:00,R-20
"""
CHATS = {"F-20": 6020, "F-21": 6021}
PARENT_MAIL = "foraelder.h@example.org"
GREETING = "Vi byggede en hule i haven 🏕️"
PICTURE = jpeg((90, 160, 60))
CHILD_WORDS = "At vi bager pandekager, og at hunden sover på mine fødder."

MATCH_AT = at(MATCH_DAY, 9)
CONSENT_AT = at(date(2026, 4, 27), 9)
GREETING_AT = at(date(2026, 5, 4), 20)  # Monday evening, after the visit
STOP_AT = at(date(2026, 11, 4), 20)  # Wednesday evening
REMATCH_AT = at(date(2026, 11, 16), 9)
REMATCH_START = date(2026, 11, 23)


@dataclass
class Lived:
    """What the year held, read back from the database, the fakes and the reports."""

    first: int = 0
    second: int = 0
    greeting: list[str] = field(default_factory=list)
    stop_answers: list[str] = field(default_factory=list)
    holiday_question: list[str] = field(default_factory=list)
    holiday_answer: list[str] = field(default_factory=list)
    pauses: list[tuple[date, date | None, str]] = field(default_factory=list)
    voice_invitation: list[str] = field(default_factory=list)
    voice_answers: list[str] = field(default_factory=list)
    child_voice: list[dict[str, str]] = field(default_factory=list)
    received: dict[str, list[tuple[str, str, datetime]]] = field(default_factory=dict)
    """party ref -> (kind or touchpoint, channel, local time sent) of each message sent."""
    tasks: list[tuple[date, str, str, str, str]] = field(default_factory=list)
    """(due day, owner ref, match ref or "", touchpoint or key prefix, title)"""
    sms: list[tuple[str, str]] = field(default_factory=list)
    emails: list[tuple[str, str, str, list[bytes]]] = field(default_factory=list)
    telegram: list[tuple[int, str]] = field(default_factory=list)
    ended: tuple[str, str, date | None] = ("", "", None)
    """the first match's (ended by, reason in the family's words, end date)"""
    second_match: tuple[int | None, str, date | None] = (None, "", None)
    """the re-match's (previous match, family ref, start date)"""
    same_child: bool = False
    waiting: list[dict[str, str]] = field(default_factory=list)
    matches: list[dict[str, str]] = field(default_factory=list)


def cli(app: AppContext, *args: str) -> str:
    result = CliRunner().invoke(main, list(args), obj=app)
    assert result.exit_code == 0, result.output
    return result.output


def import_file(app: AppContext, tmp: Path, kind: str, text: str) -> None:
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


def send_greeting(bot: BotHarness, chat: int) -> list[str]:
    """The family writes /greeting, sends a photo with a caption and confirms the preview."""
    asked = bot.say(chat, "/greeting")
    previewed = bot.process(bot.fake.photo_update(chat, PICTURE, caption=GREETING, push=False))
    sent = bot.press(chat, previewed.data("✉️ Send hilsenen"))
    return [*asked.texts, *previewed.texts, *sent.texts]


def with_buttons(sent: Sent, chat: int, action: str) -> list[tuple[int, Sent]]:
    """Each message the tick sent to ``chat`` with ``action``'s buttons (the holiday question
    "hq", the child's voice "cv"), by its message id."""
    return [
        (int(call.result["message_id"]), Sent([call]))
        for call in sent.calls
        if call.method == "sendMessage"
        and call.params.get("chat_id") == chat
        and any(data.split("|")[1] == action for data in callback_data(call.params))
    ]


def ask_the_child(bot: BotHarness, chat: int, message_id: int, invited: Sent) -> list[str]:
    """The family asks the child: Start, three smileys, then the child's own words."""
    first = bot.press(chat, invited.data("Start"), message_id)
    second = bot.press(chat, first.data("🙂"), message_id)
    third = bot.press(chat, second.data("😄"), message_id)
    fourth = bot.press(chat, third.data("😄"), message_id)
    words = bot.say(chat, CHILD_WORDS)
    return [*first.texts, *second.texts, *third.texts, *fourth.texts, *words.texts]


def live(
    app: AppContext, bot: BotHarness, twilio: FakeTwilio, port: int, lived: Lived, tmp: Path
) -> None:
    """Tick from the first morning to the last day, doing what the people do on their days."""

    async def with_real_channels() -> Runtime:
        return Runtime(app, channels=channels(app, twilio, bot.fake, port), sandbox=frozenset())

    sandboxed = bot.runtime
    assert sandboxed is not None
    bot.runtime = bot.call(with_real_channels())
    bot.call(sandboxed.close())
    events = [
        (MATCH_AT, "match"),
        (CONSENT_AT, "consent"),
        (GREETING_AT, "greeting"),
        (STOP_AT, "stop"),
        (REMATCH_AT, "rematch"),
    ]
    moment = at(FIRST_DAY, 7)
    end = at(LAST_DAY, 23)
    while moment <= end:
        while events and events[0][0] <= moment:
            when, what = events.pop(0)
            app.now_override = bot.clock.now = when
            if what == "match":
                import_file(app, tmp, "matches", MATCHES_CSV)
                with app.session_factory() as session:
                    lived.first = session.scalars(select(Match.id)).one()
            elif what == "consent":
                cli(app, "contact", "consent", "K-20", "--photos", "yes", "--on", "2026-04-27")
            elif what == "greeting":
                lived.greeting = send_greeting(bot, CHATS["F-20"])
            elif what == "stop":
                lived.stop_answers = stop_in_the_bot(bot, CHATS["F-20"], "Vi flytter til Odense")
            else:
                out = cli(
                    app,
                    "match",
                    "rematch",
                    str(lived.first),
                    "--family",
                    "F-21",
                    "--start",
                    REMATCH_START.isoformat(),
                )
                lived.second = int(out.split()[1].rstrip(":"))
        app.now_override = moment
        sent = bot.tick(moment)
        for chat in CHATS.values():
            answer_visit_prompts(bot, sent, chat)
        for message_id, question in with_buttons(sent, CHATS["F-20"], "hq"):
            lived.holiday_question.append(question.text)
            # Visits go on in the summer holiday; the autumn holiday (week 42) is a pause.
            autumn = "efterårsferien" in question.text
            answer = "Nej, vi holder pause" if autumn else "Ja, besøgene fortsætter"
            pressed = bot.press(CHATS["F-20"], question.data(answer), message_id)
            lived.holiday_answer.extend(pressed.texts)
        for message_id, invited in with_buttons(sent, CHATS["F-20"], "cv"):
            lived.voice_invitation.append(invited.text)
            lived.voice_answers.extend(ask_the_child(bot, CHATS["F-20"], message_id, invited))
        with app.session_factory() as session:
            moment = next_moment(session, moment)
        if events and events[0][0] < moment:
            moment = events[0][0]  # what people do is ticked at once, as the runtime would


def collect(app: AppContext, lived: Lived) -> None:
    with app.session_factory() as session:
        refs: dict[tuple[str, int], str] = {
            ("volunteer_family", f.id): f.external_ref or ""
            for f in session.scalars(select(VolunteerFamily))
        }
        refs |= {
            ("contact_person", c.id): c.external_ref or ""
            for c in session.scalars(select(ContactPerson))
        }
        staff = {s.id: s.external_ref or "" for s in session.scalars(select(Staff))}
        refs |= {("staff", s): ref for s, ref in staff.items()}
        matches = {m.id: m.external_ref or f"#{m.id}" for m in session.scalars(select(Match))}
        first, second = session.get(Match, lived.first), session.get(Match, lived.second)
        assert first is not None and second is not None
        lived.ended = (
            first.ended_by.value if first.ended_by else "",
            first.end_reason or "",
            first.end_date,
        )
        lived.second_match = (
            second.previous_match_id,
            second.volunteer_family.external_ref or "",
            second.start_date,
        )
        lived.same_child = second.child_id == first.child_id and [
            c.id for c in second.contacts
        ] == [c.id for c in first.contacts]
        for row in session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.DELIVERED)))
            .order_by(OutboxMessage.sent_at, OutboxMessage.id)
        ):
            assert row.sent_at is not None
            sent = row.sent_at if row.sent_at.tzinfo else row.sent_at.replace(tzinfo=UTC)
            who = refs.get((row.audience.value, row.recipient_id), row.audience.value)
            lived.received.setdefault(who, []).append(
                (
                    row.touchpoint_id or row.kind,
                    row.channel.value,
                    local(sent).replace(tzinfo=None),
                )
            )
        lived.pauses = [
            (p.start_date, p.end_date, p.reason or "")
            for p in session.scalars(select(MatchPause).order_by(MatchPause.id))
        ]
        for task in session.scalars(select(Task).order_by(Task.due_at, Task.id)):
            lived.tasks.append(
                (
                    local(task.due_at).date(),
                    staff.get(task.owner_id or 0, ""),
                    matches.get(task.match_id or 0, ""),
                    task.touchpoint_id or (task.idempotency_key or "").split(":")[0],
                    task.title,
                )
            )
    period = ("--from", "2026-01-01", "--to", LAST_DAY.isoformat())
    waiting = cli(app, "report", "waiting", *period)
    lived.waiting = list(csv.DictReader(io.StringIO(waiting.split("\n\n")[0])))
    lived.matches = list(csv.DictReader(io.StringIO(cli(app, "report", "matches", *period))))
    voice = cli(app, "report", "child-voice", *period)
    lived.child_voice = list(csv.DictReader(io.StringIO(voice)))


def _plain(message: Any) -> str:
    part = message.get_body(preferencelist=("plain",))
    return " ".join(str(part.get_content()).split()) if part is not None else ""


@pytest.fixture(scope="module")
def lived(engine: Engine, db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lived]:
    tmp = tmp_path_factory.mktemp("year-around")
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
            for kind, text in (
                ("staff", STAFF_CSV),
                ("families", FAMILIES_CSV),
                ("contacts", CONTACTS_CSV),
                ("referrals", REFERRALS_CSV),
                ("household", HOUSEHOLD_CSV),
            ):
                import_file(app, tmp, kind, text)
            link_chats(app, setup)
            bot = BotHarness(telegram, app, Clock(setup)).start()
            try:
                live(app, bot, twilio, port, result, tmp)
            finally:
                if bot.runtime is not None:
                    bot.call(bot.runtime.close())
                bot.close()
            app.now_override = at(LAST_DAY, 23)
            collect(app, result)
            result.sms = [(m.to, m.params.get("Body", "")) for m in twilio.messages]
            result.telegram = [
                (int(p["chat_id"]), p["text"]) for _, p in telegram.sent("sendMessage")
            ]
            result.emails = [
                (
                    str(m["To"]),
                    str(m["Subject"]),
                    _plain(m),
                    [bytes(a.get_content()) for a in m.iter_attachments()],
                )
                for m in mailbox.messages
            ]
            assert twilio.violations == [] and telegram.violations == []
            app.close()
        yield result
    finally:
        smtp.stop()
        with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(delete(table))


def sent_to(lived: Lived, party: str, what: str) -> list[tuple[str, datetime]]:
    return [
        (channel, when) for kind, channel, when in lived.received.get(party, []) if kind == what
    ]


def telegram_to(lived: Lived, family: str, words: str) -> list[str]:
    return [text for chat, text in lived.telegram if chat == CHATS[family] and words in text]


def mail_to(lived: Lived, subject: str) -> list[tuple[str, list[bytes]]]:
    return [
        (body, files)
        for to, subj, body, files in lived.emails
        if to == PARENT_MAIL and subj == subject
    ]


def test_the_child_and_both_families_hear_from_us_while_they_wait_and_not_after(
    lived: Lived,
) -> None:
    assert sent_to(lived, "F-20", "waiting-note") == [
        ("telegram", datetime(2026, 2, 16, 10, 0)),
        ("telegram", datetime(2026, 3, 30, 10, 0)),
    ]
    # The child's parent, by email as she prefers, every six weeks from 19 January.
    assert sent_to(lived, "K-20", "waiting-note") == [
        ("email", datetime(2026, 3, 2, 10, 0)),
        ("email", datetime(2026, 4, 13, 10, 0)),
    ]
    # The second family waits from 2 February until the re-match on 16 November: the note due
    # on 23 November is not sent.
    assert sent_to(lived, "F-21", "waiting-note") == [
        ("telegram", datetime(2026, day.month, day.day, 10, 0))
        for day in (
            date(2026, 3, 16),
            date(2026, 4, 27),
            date(2026, 6, 8),
            date(2026, 7, 20),
            date(2026, 8, 31),
            date(2026, 10, 12),
        )
    ]
    assert len(telegram_to(lived, "F-20", "Vi har ikke glemt jer")) == 2
    assert len(telegram_to(lived, "F-21", "Vi har ikke glemt jer")) == 6
    notes = mail_to(lived, "Vi har ikke glemt Barn H")
    assert len(notes) == 2 and all(
        body.startswith(
            "Kære Forælder H Vi har ikke glemt Barn H. Vi leder stadig efter den rette "
            "venskabsfamilie i Hjem til Os"
        )
        for body, _ in notes
    )


def test_staff_get_each_task_on_its_day_and_a_certificate_runs_out_mid_match(
    lived: Lived,
) -> None:
    second = f"#{lived.second}"
    assert [(due, owner, match, what) for due, owner, match, what, _ in lived.tasks] == [
        (date(2026, 3, 30), "S-03", "", "waiting"),  # F-20 has waited 12 weeks
        (date(2026, 4, 13), "S-01", "", "waiting"),  # Barn H has waited 12 weeks
        (date(2026, 4, 20), "S-01", "M-20", "first-meeting"),
        (date(2026, 4, 27), "S-03", "", "waiting"),  # F-21 has waited 12 weeks
        (date(2026, 4, 28), "S-01", "M-20", "first-visit-call"),
        (date(2026, 5, 12), "S-01", "M-20", "baseline-survey"),
        (date(2026, 6, 2), "S-01", "M-20", "certificate"),
        (date(2026, 6, 2), "S-01", "M-20", "certificate"),
        (date(2026, 8, 20), "S-01", "M-20", "child-visit"),
        # Stopped on Wednesday 4 November: the extra child visit 3 days after (a Saturday,
        # so the Monday), the re-match question a week after.
        (date(2026, 11, 9), "S-01", "M-20", "early-end-child-visit"),
        (date(2026, 11, 11), "S-01", "M-20", "rematch-question"),
        (date(2026, 11, 23), "S-01", second, "first-meeting"),
        (date(2026, 11, 25), "S-01", "M-20", "end-survey"),
        (date(2026, 12, 1), "S-01", second, "first-visit-call"),
    ]
    titles = [title for _, _, _, _, title in lived.tasks]
    assert titles[0].startswith("Venskabsfamilie 20 har ventet 12 uger på et match")
    assert titles[1].startswith("Barn H har ventet 12 uger på en venskabsfamilie")
    assert titles[6:8] == [
        "Forny børneattesten for Voksen C (Venskabsfamilie 20): den udløber 01.08.2026",
        "Forny straffeattesten for Voksen C (Venskabsfamilie 20): den udløber 01.08.2026",
    ]
    assert titles[9].startswith("Ekstra børnebesøg: så barnet ikke bebrejder sig selv")
    assert titles[10].startswith("Genmatch: ring til forælder/kontaktperson")
    assert not any("forfalden" in title for title in titles)


def test_the_family_is_asked_about_each_visit_until_it_stops(lived: Lived) -> None:
    (welcome,) = sent_to(lived, "F-20", "welcome")
    assert welcome == ("telegram", datetime(2026, 4, 20, 18, 0))
    prompts = [when for _, when in sent_to(lived, "F-20", "weekly-visit")]
    # Every Monday 19:00 from the second week to the last Monday before the stop; answered in
    # the bot each time, so no reminder follows; none on 12 October, in the week-42 pause.
    mondays = [datetime(2026, 4, 27, 19, 0) + timedelta(weeks=n) for n in range(28)]
    assert mondays[-1] == datetime(2026, 11, 2, 19, 0)
    assert prompts == [m for m in mondays if m != datetime(2026, 10, 12, 19, 0)]
    assert len(telegram_to(lived, "F-20", "Kom Barn H på besøg i dag?")) == len(prompts)


def test_the_family_is_asked_about_the_holidays_and_pauses_in_week_42(lived: Lived) -> None:
    assert sent_to(lived, "F-20", "holiday-question") == [
        ("telegram", datetime(2026, 6, 20, 17, 0)),  # a week before the summer holiday
        ("telegram", datetime(2026, 10, 5, 17, 0)),  # a week before week 42
    ]
    summer, autumn = lived.holiday_question
    assert summer.startswith(
        "Hej Kontaktvoksen 20. Snart er det sommerferien, fra lørdag den 27. juni til og med "
        "søndag den 9. august."
    )
    assert autumn.startswith(
        "Hej Kontaktvoksen 20. Snart er det efterårsferien, fra mandag den 12. oktober til og "
        "med søndag den 18. oktober."
    )
    assert "Kommer Barn H på besøg som sædvanligt i ferien?" in autumn
    kept, paused = lived.holiday_answer
    assert kept.startswith("Dejligt! Vi spørger til besøgene som sædvanligt.")
    assert paused.startswith(
        "Pausen er noteret: fra mandag den 12. oktober 2026 til og med søndag den 18. oktober 2026."
    )
    assert lived.pauses == [
        (date(2026, 10, 12), date(2026, 10, 19), "school holiday autumn-2026"),
    ]


def test_the_child_is_heard_at_three_months_through_the_family_in_the_bot(lived: Lived) -> None:
    # 20 July, three months after the start, 17:00; once (the nine months would be January).
    assert sent_to(lived, "F-20", "child-voice-3mo") == [("telegram", datetime(2026, 7, 20, 17))]
    assert [k for k, _, _ in lived.received["F-20"] if k.startswith("child-voice")] == [
        "child-voice-3mo"
    ]
    (invited,) = lived.voice_invitation
    assert invited.startswith("Hej Kontaktvoksen 20. Barn H har besøgt jer et stykke tid nu")
    assert "tryk på det ansigt, Barn H vælger" in invited
    assert lived.voice_answers[0].startswith(
        "Spørg Barn H (1 af 3):\n\nHvordan har du det, når du er hos familien?"
    )
    assert lived.voice_answers[-1] == (
        "Tak, fordi I spurgte Barn H! Vi har gemt svarene, og Procesleder Hovedstaden kan se dem."
    )
    (row,) = lived.child_voice
    assert (row["match_id"], row["moment"], row["relayed_by"], row["answered_on"]) == (
        str(lived.first),
        "3mo",
        "volunteer_family",
        "2026-07-20",
    )
    assert (row["feel_at_family"], row["doing_things"], row["look_forward"]) == ("4", "5", "5")
    assert (row["smiley_mean"], row["own_words"]) == ("4.67", "true")
    assert "hunden" not in str(lived.child_voice)  # the child's words stay out of the report


def test_the_parent_gets_the_greeting_with_its_photo_by_email(lived: Lived) -> None:
    assert lived.greeting == [
        "Skriv jeres hilsen til Forælder H, fx hvad I lavede sammen i dag. "
        "I kan også sende et billede.\n\nI ser hilsenen, før den bliver sendt.",
        f"Sådan bliver hilsenen til Forælder H:\n\n{GREETING}\n📷 Med jeres billede.\n\n"
        "Skal vi sende den? Vil I rette teksten, så skriv den bare igen. "
        "I kan også sende et billede.",
        "Tak! Hilsenen er på vej til Forælder H. 💌",
    ]
    assert sent_to(lived, "K-20", "moment") == [("email", datetime(2026, 5, 4, 20, 0))]
    ((body, files),) = mail_to(lived, "En hilsen fra Venskabsfamilie 20")
    assert GREETING in body
    assert files == [PICTURE]


def test_an_early_end_by_the_family_runs_its_steps_and_the_child_is_re_matched(
    lived: Lived,
) -> None:
    assert lived.stop_answers[0].startswith("Vil I stoppe forløbet med Barn H?")
    assert "Vi har noteret, at I ønsker at stoppe" in lived.stop_answers[1]
    assert lived.ended == ("volunteer_family", "Vi flytter til Odense", date(2026, 11, 4))
    # The parent hears from us the next morning, by email: not the child's fault, we call.
    assert sent_to(lived, "K-20", "early-end-parent") == [("email", datetime(2026, 11, 5, 10, 0))]
    ((body, _),) = mail_to(lived, "Venskabsfamilie 20 har stoppet forløbet med Barn H")
    assert "Barn Hs skyld" in body and "forfalden" not in body
    # Nothing more for the family that stopped: no visit prompt, no farewell.
    assert [k for k, _, when in lived.received["F-20"] if when > datetime(2026, 11, 5)] == []

    # The re-match: the same child and parent with the second family, naming the first match.
    assert lived.second_match == (lived.first, "F-21", REMATCH_START)
    assert lived.same_child
    assert sent_to(lived, "F-21", "welcome") == [("telegram", datetime(2026, 11, 23, 18, 0))]
    (welcome,) = telegram_to(lived, "F-21", "Velkommen til Hjem til Os!")
    assert "Tak, fordi I vil være venskabsfamilie for Barn H" in welcome
    assert "hver mandag" in welcome
    assert sent_to(lived, "F-21", "weekly-visit") == [("telegram", datetime(2026, 11, 30, 19, 0))]


def test_the_reports_show_the_waiting_list_and_the_re_match_both_ways(lived: Lived) -> None:
    waiting = {r["party_ref"]: r for r in lived.waiting}
    assert {
        ref: (r["status"], r["status_since"], r["notes_sent"]) for ref, r in waiting.items()
    } == {
        "F-20": ("matched", "2026-04-20", "2"),
        "R-20": ("matched", "2026-04-20", "2"),
        "F-21": ("matched", "2026-11-16", "6"),
    }
    assert waiting["R-20"]["match_id"] == str(lived.first)
    text = "".join(",".join(r.values()) for r in lived.waiting)
    assert "Venskabsfamilie" not in text and "Barn" not in text and "+45" not in text
    rows = {int(r["match_id"]): r for r in lived.matches}
    assert set(rows) == {lived.first, lived.second}
    first, second = rows[lived.first], rows[lived.second]
    assert (first["status"], first["ended_by"], first["end_date"]) == (
        "ended",
        "volunteer_family",
        "2026-11-04",
    )
    assert (first["rematch"], first["previous_match_id"], first["rematched_as"]) == (
        "false",
        "",
        str(lived.second),
    )
    assert (second["status"], second["rematch"], second["previous_match_id"]) == (
        "active",
        "true",
        str(lived.first),
    )
    assert (second["start_date"], second["rematched_as"]) == ("2026-11-23", "")
