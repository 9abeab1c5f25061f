"""Every web page in every language: the staff pages, the login, the alert link, the survey and
unsubscribe pages, the import page, the sandbox and the printed year plan, served over loopback
by the real app.

A page fails when an English word of the interface shows on a Danish page (or a Danish word on
an English one), when it shows "None", or when template syntax or a placeholder is left
unrendered; and its ``<html>`` must name the language and its writing direction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime

import httpx
import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.alerts import ack_token
from followup.escalations import raise_escalation
from scheduler import i18n
from scheduler.links import secret_for, unsubscribe_token
from store.models import (
    Escalation,
    Locale,
    Match,
    OutboxMessage,
    OutboxStatus,
    Staff,
    StaffRole,
    Task,
)
from tests.conftest import free_port
from tests.support import staff_app
from tests.support.cast import make_match
from tests.support.sandbox_app import SandboxServer
from tests.support.staff_app import World, signed_in
from tests.support.survey_app import invite
from web.printed import Printed, plan_html

_served = staff_app._served
world = staff_app.world

# Languages a person can be given (a stored locale) that have a catalog.
LANGUAGES = [lang.code for lang in i18n.languages() if lang.code in {x.value for x in Locale}]

# Words of the interface, not of the demo data (names such as "Familien Holm", "Barn A",
# "Hjem til Os" are data and stay as they are in every language).
ENGLISH = re.compile(
    r"\b(the|and|Today|Save|Sign in|Sign out|Outbox|Matches|Overdue|Please|Surveys?|Reports?|"
    r"planned|sent|cancelled|visited|weeks?|ago|Show|Search|Download|Monday|Tuesday|April|"
    r"March|Back|Next|Thank you|Acknowledge|Snooze|Resolve|Visits?|Page|Urgent|Health|"
    r"Programme|Contact|Channel|Unsubscribe|Questionnaire|File|Check|Inbox|Families)\b"
)
DANISH = re.compile(
    r"\b(og|ikke|Gem|Vis|Udsæt|Kvittér|Afslut|Sagen|Spørgeskema\w*|Udbakke|Haster|planlagt|"
    r"sendt|besvaret|siden|uger|Ingen|endnu|Tilbage|Næste|Side|Hent|Rapporter|Log ind|Log ud|"
    r"Årshjul\w*|mandag|tirsdag|marts|Besøg|besøg|Afmeld\w*|Tjek|Indbakke|Venskabsfamilier|"
    r"Kanal|Tilstand|Program|Sandkasse|Dato|Hvem|Hvad|[Hh]ar|er|med|fra|jeres|denne|uge|[Hh]vordan|"
    r"[Kk]an|skal|Hej|Tak)\b"
)
FOREIGN = {"da": ENGLISH, "en": DANISH}


def visible(html: str, lang: str = "") -> str:
    """The page's text as a reader sees it, without a message's own text (a message to a
    family is in the family's language, whatever the staff member reads: the page marks it
    with its own ``lang``)."""
    html = re.sub(r"<(style|textarea)\b.*?</\1>", " ", html, flags=re.S)
    html = re.sub(rf'<(\w+)[^>]* lang="(?!{lang}")[^"]*"[^>]*>.*?</\1>', " ", html, flags=re.S)
    html = re.sub(r"<title>.*?</title>", " ", html, flags=re.S)  # SVG titles name data
    text = re.sub(r"<[^>]+>", " ", html)
    return re.sub(r"\s+", " ", text.replace("&nbsp;", " "))


def check(name: str, html: str, lang: str) -> list[str]:
    """What is wrong with one page in ``lang`` (nothing: an empty list)."""
    problems = []
    direction = i18n.language(lang).direction
    if not re.search(rf'<html lang="{lang}" dir="{direction}">', html):
        problems.append(f"{name}: <html> does not say lang={lang} dir={direction}")
    text = visible(html, lang)
    for left in ("{{", "}}", "{%", "%(", "None"):
        if left in html:
            problems.append(f"{name}: {left!r} left in the page")
    pattern = FOREIGN.get(lang)
    if pattern is not None:
        found = sorted({m.group(0) for m in pattern.finditer(text)})
        if found:
            problems.append(f"{name} ({lang}): words of another language {found}")
    return problems


def _speak(factory: sessionmaker[Session], lang: str) -> None:
    """The staff read ``lang``; the families and parents stay Danish, so a page in English
    shows their Danish messages, each marked with its own ``lang``."""
    with factory.begin() as session:
        session.execute(update(Staff).values(locale=Locale(lang)))
        if lang != "da":
            session.execute(update(Task).values(title="Call the parent after the first visit"))
            for case in session.scalars(select(Escalation)):
                case.evidence = [{"text": "Can we move the visit?"}]


def _staff_pages(world: World, factory: sessionmaker[Session]) -> Iterator[tuple[str, str]]:
    with factory() as session:
        message = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.match_id == world.match,
                OutboxMessage.status == OutboxStatus.PLANNED,
            )
            .order_by(OutboxMessage.due_at)
        ).first()
        assert message is not None
        message_id = message.id
    with world.client("procesleder") as client:
        for path in (
            "/today",
            "/matches",
            f"/matches/{world.match}",
            "/outbox",
            "/outbox?view=history",
            f"/outbox/{message_id}",
            "/sparring",
            "/reports",
            "/matches/999999",  # not found
            "/import",  # a procesleder may not import: the refusal page
        ):
            answer = client.get(path)
            assert answer.status_code in (200, 403, 404), (path, answer.status_code)
            yield path, answer.text
    with world.client("coordinator") as client:
        yield "/surveys", client.get("/surveys").text


def _signed_out_pages(world: World, lang: str) -> Iterator[tuple[str, str]]:
    headers = {"Accept-Language": f"{lang},en;q=0.5"}
    with httpx.Client(base_url=world.url, timeout=10, headers=headers) as client:
        yield "/login", client.get("/login").text
        yield "/login?out=1", client.get("/login?out=1").text
        yield "/login/link", client.get("/login/link/" + "x" * 40).text


def _link_pages(
    world: World, factory: sessionmaker[Session], lang: str
) -> Iterator[tuple[str, str]]:
    with factory.begin() as session:
        match = session.get(Match, world.match)
        assert match is not None and match.staff is not None
        secret = secret_for(session, None)
        case = raise_escalation(
            session, match, "no_visit_reported", now=staff_app.NOW, evidence={"weeks": 3}
        )
        ack = ack_token(secret, case.id, match.staff.id)
        survey = invite(session, match, now=staff_app.NOW)
        unsubscribe = unsubscribe_token(secret_for(session), match.contacts[0])
    with httpx.Client(base_url=world.url, timeout=10) as client:
        yield "/ack", client.get(f"/ack/{ack}").text
        yield "/ack snooze", client.post(f"/ack/{ack}", data={"action": "snooze"}).text
        yield "/s page", client.get(f"/s/{survey}?lang={lang}").text
        yield "/u", client.get(f"/u/{unsubscribe}?lang={lang}").text
        yield "/u done", client.post(f"/u/{unsubscribe}?lang={lang}", data={}).text


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_of_the_staff_app_and_its_links_speaks_one_language(
    world: World, session_factory: sessionmaker[Session], lang: str
) -> None:
    _speak(session_factory, lang)
    problems: list[str] = []
    pages = [
        *_staff_pages(world, session_factory),
        *_signed_out_pages(world, lang),
        *_link_pages(world, session_factory, lang),
    ]
    with signed_in(world.url, session_factory) as (client, _csrf):
        pages.append(("/import as admin", client.get(f"/import?lang={lang}").text))
    for name, html in pages:
        problems += check(name, html, lang)
    assert problems == []


def test_a_link_that_fits_nothing_speaks_every_language_each_in_its_own_block(
    world: World,
) -> None:
    page = httpx.get(f"{world.url}/s/{'x' * 40}")
    assert page.status_code == 404
    blocks = re.findall(r'<div lang="(\w+)">(.*?)</div>', page.text, flags=re.S)
    assert [code for code, _ in blocks] == sorted(i18n.enabled_languages(), key=lambda c: c != "da")
    for code, block in blocks:
        pattern = FOREIGN.get(code)
        assert pattern is None or not pattern.search(visible(block)), (code, block)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_printed_year_plan_speaks_the_family_s_language(lang: str) -> None:
    about = Printed(
        child="Barn A",
        family="Familien Holm",
        programme="Mentorbarn",
        start=date(2026, 3, 2),
        end=date(2027, 3, 2),
        today=date(2026, 4, 14),
    )
    html = plan_html(about, [], [], lang)
    assert check("print/plan.html", html, lang) == []
    assert {"da": "Årshjul for Barn A og Familien Holm", "en": "The year of Barn A"}[lang] in html


@pytest.fixture(scope="module")
def sandbox(db_url: str, engine: Engine) -> Iterator[SandboxServer]:
    start = datetime(2026, 3, 3, 11, 0, tzinfo=UTC)
    server = SandboxServer(db_url, engine, free_port(), start).start()
    try:
        server.app.time_offset = start - datetime.now(UTC)
        yield server
    finally:
        server.close()


def test_the_sandbox_speaks_the_language_asked_for(
    sandbox: SandboxServer, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        family_id = make_match(session, start=date(2026, 3, 2)).volunteer_family.id
    with signed_in(sandbox.url, session_factory, StaffRole.ADMIN) as (client, csrf):
        client.post(f"/sandbox/clock?lang=da&csrf={csrf}", data={"step": "week"})
        problems: list[str] = []
        for lang in LANGUAGES:
            for path in ("/sandbox", "/sandbox/inbox", f"/sandbox/chat/{family_id}"):
                answer = client.get(f"{path}?lang={lang}")
                assert answer.status_code == 200, (path, answer.status_code)
                problems += check(path, answer.text, lang)
            moved = client.get(f"/sandbox?lang={lang}&moved_to=x&ticks=3&sent=1")
            problems += check("/sandbox moved", moved.text, lang)
    assert problems == []
