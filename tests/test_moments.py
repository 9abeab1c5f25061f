"""Moments shared with the parent, lived with an injected clock through the real bot and the
real channels: the volunteer family sends a greeting and a photo in Telegram (getFile and the
download from the fake Bot API), previews and confirms it; the parent who prefers email gets the
photo attached (aiosmtpd), the parent who prefers SMS gets a link (the fake Twilio) to a page of
the web app (uvicorn) that shows it until it expires. Consent is recorded by the command line
and on the staff match page; a photo without consent is refused and the text still goes; the
programme can turn greetings off; retention, export and erasure take the photo and text away.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
import yaml
from PIL import Image
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker
from telegram.request import HTTPXRequest

from bot.app import build_application, start_bot
from followup.erasure import erase_person
from followup.matches import end as end_match
from followup.people import export_person
from followup.retention import run_retention
from followup.staff_auth import set_password
from scheduler.channels.base import Channel as SendingChannel
from scheduler.channels.email import EmailChannel
from scheduler.channels.sandbox import SandboxChannel
from scheduler.channels.sms import SmsChannel
from scheduler.channels.telegram import TelegramChannel
from scheduler.programme import PROGRAMMES_DIR
from scheduler.sms import MAX_SEGMENTS, segments
from store.models import (
    Channel,
    ContactPerson,
    EndedBy,
    Locale,
    Match,
    Moment,
    OutboxMessage,
    OutboxStatus,
)
from tests.conftest import free_port
from tests.fakes.telegram import FakeTelegram
from tests.fakes.twilio import FakeTwilio
from tests.support.bot_harness import (
    FAMILY_CHAT,
    VISIT_EVENING,
    BotHarness,
    Clock,
    Sent,
    app_context,
)
from tests.support.cast import make_match
from tests.support.staff_app import PASSWORD, csrf_of, login
from tests.support.webserver import serving
from tests.test_channel_email import Mailbox
from tests.test_channel_email import mailbox as mailbox
from tests.test_cli import cli
from venskab.runtime import Runtime
from web.app import create_app

pytest_plugins = ["tests.support.bot_harness"]  # the fake Bot API

SID = "AC" + "7" * 32
TOKEN = "twilio-moments-token"
SENDER = "+4520123400"
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/m/([0-9]+\.[0-9]+\.[A-Za-z0-9_-]{32}))")


def jpeg(colour: tuple[int, int, int] = (200, 120, 40), size: tuple[int, int] = (64, 48)) -> bytes:
    """A real JPEG, as Telegram re-encodes every photo."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


class Harness(BotHarness):
    """The bot as ``venskab run`` runs it, with the real SMS and email channels."""

    def __init__(self, *args: object, twilio: FakeTwilio, smtp_port: int, **kwargs: object):
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.twilio = twilio
        self.smtp_port = smtp_port

    async def _start(self) -> None:
        application = build_application(
            self.app.services,
            clock=self.clock,
            rate_limiter=None,
            get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=5),
        )
        await start_bot(application, self.app.settings, poll_timeout=1)
        self.application = application
        channels: dict[str, SendingChannel] = {
            "sms": SmsChannel(
                SID, TOKEN, SENDER, api_url=self.twilio.url, segments_per_second=None
            ),
            "email": EmailChannel(
                "127.0.0.1",
                self.smtp_port,
                "venskab@example.org",
                starttls=False,
                timeout=5,
                clock=self.clock,
            ),
            "voice": SandboxChannel("voice"),
            "telegram": TelegramChannel(application.bot),
        }
        self.runtime = Runtime(self.app, channels=channels, sandbox=frozenset({"voice"}))

    def at(self, moment: datetime) -> None:
        """The bot's, the runtime's and the web app's clock."""
        self.clock.now = moment
        self.app.now_override = moment

    def close(self) -> None:
        if self.runtime is not None:
            for name in ("sms", "email"):
                self.call(self.runtime.channels[name].close())
        super().close()

    def now(self) -> datetime:
        return self.clock.now

    def photo(self, chat_id: int, data: bytes, caption: str | None = None) -> Sent:
        return self.process(self.fake.photo_update(chat_id, data, caption=caption, push=False))


@dataclass
class World:
    bot: Harness
    url: str
    twilio: FakeTwilio
    mailbox: Mailbox
    match_id: int
    sms_parent: int  # "Forælder": SMS, Danish
    mail_parent: int  # "Parent Two": email, English


@pytest.fixture
def world(
    fake: FakeTelegram,
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> Iterator[World]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with session_factory.begin() as session:
        match = make_match(session)
        match.contacts[0].external_ref = "K-01"
        second = ContactPerson(
            name="Parent Two",
            external_ref="K-02",
            email="parent.two@example.org",
            preferred_channel=Channel.EMAIL,
            locale=Locale.EN,
        )
        match.contacts.append(second)
        assert match.staff is not None
        set_password(session, match.staff, PASSWORD, VISIT_EVENING, actor="test")
        session.flush()
        ids = match.id, match.contacts[0].id, second.id
    app = app_context(db_url, engine, fake, VENSKAB_PUBLIC_URL=url)
    app.now_override = VISIT_EVENING
    with FakeTwilio(TOKEN, account_sid=SID) as twilio, serving(create_app(app.services), port):
        harness = Harness(fake, app, Clock(VISIT_EVENING), twilio=twilio, smtp_port=mailbox[1])
        harness.start()
        try:
            yield World(harness, url, twilio, mailbox[0], *ids)
        finally:
            harness.close()
            app.close()
        assert twilio.violations == []


def greetings_by_sms(world: World) -> list[str]:
    return [m.params["Body"] for m in world.twilio.messages if "hilsen fra" in m.params["Body"]]


def greetings_by_mail(world: World) -> list[EmailMessage]:
    return [m for m in world.mailbox.messages if "greeting" in str(m["Subject"]).lower()]


def moment_rows(factory: sessionmaker[Session]) -> list[OutboxMessage]:
    with factory() as session:
        return list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind == "moment")
                .order_by(OutboxMessage.id)
            )
        )


def test_a_greeting_with_a_photo_reaches_each_parent_as_their_consent_and_channel_allow(
    world: World, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    bot, fake = world.bot, world.bot.fake
    # Staff record that the parent who reads email agreed to photos (the day it was given).
    consent = cli(
        db_url, "contact", "consent", "K-02", "--photos", "yes", "--on", "2026-03-01", now=bot.now()
    )
    assert consent.exit_code == 0, consent.output
    assert "samtykke til billeder givet 1. mar. 2026 er noteret" in consent.output

    asked = bot.say(FAMILY_CHAT, "/greeting")
    assert asked.texts == [
        "Skriv jeres hilsen til Forælder og Parent Two, fx hvad I lavede sammen i dag. "
        "I kan også sende et billede.\n\nI ser hilsenen, før den bliver sendt."
    ]

    picture = jpeg()
    previewed = bot.photo(FAMILY_CHAT, picture, caption="Vi byggede en hule i stuen 🏕️")
    assert [p["file_id"] for p in previewed.of("getFile")] == ["AgAC-fake-file-0001"]
    assert fake.downloads == ["photos/file_1.jpg"]
    assert previewed.text == (
        "Sådan bliver hilsenen til Forælder og Parent Two:\n\n"
        "Vi byggede en hule i stuen 🏕️\n"
        "📷 Billedet sendes kun til Parent Two, der har sagt ja til billeder.\n\n"
        "Skal vi sende den? Vil I rette teksten, så skriv den bare igen. "
        "I kan også sende et billede."
    )
    assert previewed.buttons() == [["✉️ Send hilsenen", "Fortryd"]]
    assert moment_rows(session_factory) == []  # nothing goes before the family confirms

    sent = bot.press(FAMILY_CHAT, previewed.data("✉️ Send hilsenen"))
    assert sent.text == "Tak! Hilsenen er på vej til Forælder og Parent Two. 💌"
    # Pressing again (or a replayed press) sends nothing twice.
    again = bot.press(FAMILY_CHAT, previewed.data("✉️ Send hilsenen"))
    assert again.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert len(moment_rows(session_factory)) == 2

    bot.tick(bot.now())
    (sms,) = greetings_by_sms(world)
    assert sms == (
        "Hej Forælder. En hilsen fra Familien Eksempel, Barn As venskabsfamilie:\n"
        '"Vi byggede en hule i stuen 🏕️"\n'
        "Hilsen Red Barnet"
    )
    (mail,) = greetings_by_mail(world)
    assert mail["To"] == "parent.two@example.org"
    assert mail["Subject"] == "A greeting from Familien Eksempel"
    text = mail.get_body(("plain",))
    assert text is not None and "Vi byggede en hule i stuen 🏕️" in text.get_content()
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "image/jpeg"
    assert attachment.get_content() == picture
    rows = moment_rows(session_factory)
    assert {(r.channel.value, r.status, r.context["photo"]) for r in rows} == {
        ("sms", OutboxStatus.SENT, False),
        ("email", OutboxStatus.SENT, True),
    }

    # The parent who reads SMS agrees to photos on the staff match page.
    with httpx.Client(base_url=world.url, timeout=10) as staff:
        assert login(staff, "procesleder@example.org").status_code == 303
        page = staff.get(f"/matches/{world.match_id}")
        assert "Hilsner til forælderen" in page.text
        assert "📷 med billede" in page.text
        assert 'Forælder · sms · <span class="meta">sendt</span>' in page.text
        assert 'Parent Two · E-mail 📷 · <span class="meta">sendt</span>' in page.text
        assert "Vi byggede en hule" not in page.text  # staff see that it was shared, not what
        saved = staff.post(
            f"/matches/{world.match_id}/consent",
            data={
                "csrf": csrf_of(page.text),
                "contact": world.sms_parent,
                "photos": "yes",
                "on": "2026-03-09",
            },
            follow_redirects=False,
        )
        assert saved.status_code == 303 and "done=consent" in saved.headers["location"]
        forged = staff.post(
            f"/matches/{world.match_id}/consent",
            data={
                "csrf": csrf_of(page.text),
                "contact": 999999,
                "photos": "yes",
                "on": "2026-03-09",
            },
            follow_redirects=False,
        )
        assert "error=refused" in forged.headers["location"]
    with session_factory() as session:
        parent = session.get(ContactPerson, world.sms_parent)
        assert parent is not None and parent.photo_consent_on.isoformat() == "2026-03-09"  # type: ignore[union-attr]

    # A week later: a long greeting in several scripts, then a photo, by SMS as a link.
    bot.at(VISIT_EVENING + timedelta(days=7))
    long_text = ("Vi var i skoven og så et egern. " * 60) + "مرحبا 你好"
    bot.say(FAMILY_CHAT, "/greeting")
    bot.say(FAMILY_CHAT, long_text)
    second_picture = jpeg((30, 90, 200))
    previewed = bot.photo(FAMILY_CHAT, second_picture)
    assert "📷 Med jeres billede." in previewed.text
    bot.press(FAMILY_CHAT, previewed.data("✉️ Send hilsenen"))
    bot.tick(bot.now())
    sms = greetings_by_sms(world)[-1]
    assert segments(sms).segments <= MAX_SEGMENTS
    assert "Se billedet og hele hilsenen: " in sms
    found = LINK.search(sms)
    assert found is not None
    link, token = found.groups()
    stored = moment_rows(session_factory)[-2:]
    assert all(token not in (r.body or "") for r in stored)  # kept as [link], never the token
    assert any("[link]" in (r.body or "") for r in stored)

    with httpx.Client(timeout=10) as parent_browser:
        shown = parent_browser.get(link)
        assert shown.status_code == 200
        assert shown.headers["cache-control"] == "private, no-store"
        assert "En hilsen fra Familien Eksempel" in shown.text
        assert "Til Forælder: Familien Eksempel, Barn As venskabsfamilie" in shown.text
        with session_factory() as session:
            kept = session.scalars(select(Moment).order_by(Moment.id.desc())).first()
            assert kept is not None and kept.text is not None
            assert len(kept.text) <= 1000 and kept.text.endswith("…")
        assert kept.text[:200] in shown.text
        photo = parent_browser.get(f"{link}/photo")
        assert photo.status_code == 200
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.content == second_picture
        forged_token = token[:-1] + ("A" if token[-1] != "A" else "B")
        assert parent_browser.get(link.replace(token, forged_token)).status_code == 404
        assert parent_browser.get(f"{world.url}/m/nonsense").status_code == 404

        # The link works for 30 days; then retention deletes the photo and the page is gone.
        bot.at(VISIT_EVENING + timedelta(days=7 + 31))
        assert parent_browser.get(link).status_code == 404
    with session_factory.begin() as session:
        report = run_retention(session, bot.now(), bot.now().date(), {})
    assert report.counts["moment_photos"] == 2
    with session_factory() as session:
        assert all(m.photo is None for m in session.scalars(select(Moment)))
        assert all(m.had_photo for m in session.scalars(select(Moment)))


def test_a_photo_nobody_consented_to_is_refused_unfetched_and_the_text_still_goes(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    bot, fake = world.bot, world.bot.fake
    refused = bot.photo(FAMILY_CHAT, jpeg(), caption="Hej fra os")
    assert refused.of("getFile") == []
    assert fake.downloads == []
    assert refused.texts[0] == (
        "Tak for billedet! Vi har desværre ikke fået lov af Forælder og Parent Two til at "
        "sende billeder, så billedet bliver ikke sendt, og vi gemmer det ikke. Spørg gerne "
        "Procesleder, hvis I har spørgsmål."
    )
    assert "Hej fra os" in refused.texts[1]
    assert "📷" not in refused.texts[1]
    bot.press(FAMILY_CHAT, refused.data("✉️ Send hilsenen"))
    bot.tick(bot.now())
    (sms,) = greetings_by_sms(world)
    assert '"Hej fra os"' in sms and "/m/" not in sms
    (mail,) = greetings_by_mail(world)
    assert list(mail.iter_attachments()) == []
    with session_factory() as session:
        (moment,) = session.scalars(select(Moment))
        assert (moment.had_photo, moment.photo_type, moment.text) == (False, None, "Hej fra os")


def test_what_is_not_a_photo_or_too_large_is_refused_politely_and_nothing_is_kept(
    world: World, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    bot, fake = world.bot, world.bot.fake
    assert (
        cli(db_url, "contact", "consent", "K-01", "--photos", "yes", now=bot.now()).exit_code == 0
    )
    bad = "Det billede kan vi desværre ikke sende. Det skal være et almindeligt foto "
    # A file that says it is a JPEG but is not one: fetched, checked, refused.
    not_an_image = bot.photo(FAMILY_CHAT, b"GIF89a" + b"\x00" * 64)
    assert not_an_image.texts[0].startswith(bad)
    # An image file of another type is not even fetched; a document that is no image at all
    # gets the answer any non-text message gets.
    gif = bot.process(
        fake.document_update(
            FAMILY_CHAT, b"GIF89a", mime_type="image/gif", file_name="x.gif", push=False
        )
    )
    assert gif.texts[0].startswith(bad)
    assert gif.of("getFile") == []
    pdf = bot.process(
        fake.document_update(
            FAMILY_CHAT, b"%PDF-1.4", mime_type="application/pdf", file_name="x.pdf", push=False
        )
    )
    assert pdf.texts == [
        "Vi kan kun læse tekst her. Skriv gerne en besked, så sender vi den videre."
    ]
    assert pdf.of("getFile") == []
    # Too large by Telegram's own word: not fetched.
    huge = fake.photo_update(FAMILY_CHAT, jpeg(), push=False)
    huge["message"]["photo"][-1]["file_size"] = 6 * 1024 * 1024
    too_big = bot.process(huge)
    assert too_big.texts[0].startswith(bad) and too_big.of("getFile") == []
    # An image sent "as a file" is taken like a photo.
    png = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 200, 10)).save(png, "PNG")
    as_file = bot.process(
        fake.document_update(
            FAMILY_CHAT, png.getvalue(), mime_type="image/png", file_name="have.png", push=False
        )
    )
    assert "📷 Med jeres billede." in as_file.text
    dropped = bot.press(FAMILY_CHAT, as_file.data("Fortryd"))
    assert dropped.text == "OK, hilsenen er ikke sendt, og vi har slettet den."
    with session_factory() as session:
        assert list(session.scalars(select(Moment))) == []
    # Forged button data for a moment of nobody's changes nothing.
    forged = bot.press(FAMILY_CHAT, f"v1|mo|{world.match_id}|999|y")
    assert forged.of("answerCallbackQuery")[0]["text"] == "Denne knap er udløbet."
    assert moment_rows(session_factory) == []


def test_the_check_in_offers_the_greeting_button_and_erasure_takes_the_words(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    bot = world.bot
    asked = bot.say(FAMILY_CHAT, "/checkin")
    rated = bot.press(FAMILY_CHAT, asked.data("5 "))
    assert rated.buttons() == [["Nej tak"], ["💌 Send en hilsen til Forælder og Parent Two"]]
    prompt = bot.press(FAMILY_CHAT, rated.data("💌"))
    assert prompt.texts[-1].startswith("Skriv jeres hilsen til Forælder og Parent Two")
    bot.say(FAMILY_CHAT, "Tak for en dejlig dag")
    sent = bot.press(FAMILY_CHAT, bot_last_data(bot, "✉️"))
    assert "på vej" in sent.text
    with session_factory.begin() as session:
        match = session.get(Match, world.match_id)
        assert match is not None
        family_id = match.volunteer_family_id
        exported = export_person(session, "family", family_id, now=bot.now())
        assert [m["text"] for m in exported["moments"]] == ["Tak for en dejlig dag"]
        end_match(session, match, bot.now().date(), EndedBy.TERM, "slut", "test")
    with session_factory.begin() as session:
        summary = erase_person(session, "family", family_id, "test", now=bot.now())
        assert summary["moments_cleared"] == 1
    with session_factory() as session:
        (moment,) = session.scalars(select(Moment))
        assert moment.text is None and moment.sent_at is not None


def bot_last_data(bot: Harness, label: str) -> str:
    for call in reversed(bot.fake.calls):
        markup = call.params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if button["text"].startswith(label):
                    return str(button["callback_data"])
    raise AssertionError(f"no button {label!r}")


def test_a_programme_that_turns_greetings_off_says_so(
    fake: FakeTelegram,
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    for source in PROGRAMMES_DIR.glob("*.yaml"):
        data = yaml.safe_load(source.read_text(encoding="utf-8"))
        data["moments"] = {"enabled": False}
        (tmp_path / source.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    with session_factory.begin() as session:
        make_match(session)
    app = app_context(db_url, engine, fake, VENSKAB_PROGRAMMES_DIR=str(tmp_path))
    harness = BotHarness(fake, app, Clock(VISIT_EVENING)).start()
    try:
        off = harness.say(FAMILY_CHAT, "/greeting")
        assert off.texts == [
            "Hilsner til barnets forælder er ikke slået til i jeres forløb. "
            "Skriv gerne til Procesleder, så finder vi ud af det sammen."
        ]
        photo = harness.process(fake.photo_update(FAMILY_CHAT, jpeg(), push=False))
        assert photo.of("getFile") == [] and photo.texts == off.texts
    finally:
        harness.close()
        app.close()
