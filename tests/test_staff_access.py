"""Who may open which staff page, over a real socket on loopback: without a session every page
answers 302 to the login (GET) or 403 (POST), whatever the address; each role sees only its
matches; forms without the session's CSRF token change nothing; logins are throttled; the
cookie and the headers are what the README says; viewing a match is in the audit log."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store.models import (
    AuditEntry,
    Escalation,
    EscalationStatus,
    Locale,
    Match,
    OutboxMessage,
    OutboxStatus,
    SparringSession,
    Staff,
    StaffSession,
    Task,
    TaskStatus,
)
from tests.conftest import free_port
from tests.support import staff_app
from tests.support.staff_app import NOW, PASSWORD, World, csrf_of, login
from tests.support.webserver import serving
from tests.test_cli import cli
from venskab.cli.common import AppContext
from web.app import create_app
from web.login import ACCOUNT_FAILURES, ADDRESS_FAILURES

_served = staff_app._served
world = staff_app.world


def _planned(factory: sessionmaker[Session], match_id: int) -> int:
    with factory() as session:
        found = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.match_id == match_id, OutboxMessage.status == OutboxStatus.PLANNED
            )
        ).first()
    assert found is not None
    return found


def _routes(w: World, message: int) -> list[tuple[str, str]]:
    m, c, t = w.match, w.case, w.task
    return [
        ("GET", "/"),
        ("GET", "/today"),
        ("GET", "/matches"),
        ("GET", "/matches?health=amber"),
        ("GET", f"/matches/{m}"),
        ("GET", "/outbox"),
        ("GET", "/outbox?view=history"),
        ("GET", f"/outbox/{message}"),
        ("POST", f"/cases/{c}/ack"),
        ("POST", f"/cases/{c}/snooze"),
        ("POST", f"/cases/{c}/resolve"),
        ("POST", f"/tasks/{t}"),
        ("POST", f"/matches/{m}/pause"),
        ("POST", f"/matches/{m}/resume"),
        ("POST", f"/matches/{m}/end"),
        ("POST", f"/matches/{m}/rematch"),
        ("POST", f"/matches/{m}/note"),
        ("POST", f"/matches/{m}/contact"),
        ("POST", f"/outbox/{message}/edit"),
        ("POST", f"/outbox/{message}/reschedule"),
        ("POST", f"/outbox/{message}/send-now"),
        ("POST", f"/outbox/{message}/cancel"),
        ("GET", "/sparring"),
        ("POST", "/sparring"),
        ("GET", "/surveys"),
        ("GET", "/surveys/parent-sample/paired.csv"),
        ("GET", "/reports"),
        ("GET", "/reports/matches.csv"),
        ("GET", "/reports/stability.xlsx"),
        ("GET", "/reports/chart/visits.svg"),
        ("POST", "/logout"),
    ]


def test_without_a_session_every_page_sends_to_the_login_even_from_loopback(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    message = _planned(session_factory, world.match)
    with world.client() as client:
        for method, path in _routes(world, message):
            answer = client.request(method, path, data={"csrf": "x"} if method == "POST" else None)
            if path == "/logout":
                assert answer.status_code == 303  # nothing to end: back to the login
                continue
            if method == "GET":
                assert answer.status_code == 302, path
                assert answer.headers["location"].startswith("/login"), path
            else:
                assert answer.status_code == 403, path
            assert "Barn A" not in answer.text and "Familien Eksempel" not in answer.text
        # The login page itself, and where it sends back to.
        first = client.get("/matches/7?x=1")
        assert first.headers["location"] == "/login?next=%2Fmatches%2F7%3Fx%3D1"
    with session_factory() as session:
        case = session.get(Escalation, world.case)
        assert case is not None and case.status == EscalationStatus.OPEN
        assert session.get(OutboxMessage, message).status == OutboxStatus.PLANNED  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("who", "sees_own", "sees_other"),
    [
        ("procesleder", True, False),
        ("other", False, True),
        ("coordinator", True, False),  # her region's matches
        ("admin", True, True),
    ],
)
def test_each_role_sees_only_its_matches(
    world: World,
    session_factory: sessionmaker[Session],
    who: str,
    sees_own: bool,
    sees_other: bool,
) -> None:
    message = _planned(session_factory, world.match)
    other_message = _planned(session_factory, world.other_match)
    with world.client(who) as client:
        for match_id, message_id, allowed in (
            (world.match, message, sees_own),
            (world.other_match, other_message, sees_other),
        ):
            for path in (f"/matches/{match_id}", f"/outbox/{message_id}"):
                answer = client.get(path)
                assert answer.status_code == (200 if allowed else 404), (who, path)
            listing = client.get("/matches")
            assert listing.status_code == 200
            assert (f'href="/matches/{match_id}"' in listing.text) == allowed, who
            token = csrf_of(listing.text)
            # Changing what one may not see is refused the same way, and changes nothing.
            note = client.post(
                f"/matches/{match_id}/note", data={"csrf": token, "text": "Talt med familien"}
            )
            assert note.status_code == (303 if allowed else 404), who
        today = client.get("/today")
        assert today.status_code == 200
        assert ("Besked fra venskabsfamilien" in today.text) == (who != "other"), who
        # Every page with personal data: never cached, strict policy, no sniffing.
        page = client.get(f"/matches/{world.match if sees_own else world.other_match}")
        assert page.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in page.headers["content-security-policy"]
        assert "script-src" not in page.headers["content-security-policy"]
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "same-origin"
    with session_factory() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "match.view")).all()
        assert {v.entity_id for v in views} == {
            m for m, ok in ((world.match, sees_own), (world.other_match, sees_other)) if ok
        }
        assert all(v.actor.startswith("staff:") for v in views)


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        for data in ({}, {"csrf": "forged"}):
            answer = client.post(f"/cases/{world.case}/ack", data=data)
            assert answer.status_code == 403
            assert "Formularen var for gammel" in answer.text
        token = csrf_of(client.get("/today").text)
        done = client.post(f"/tasks/{world.task}", data={"csrf": token, "outcome": "done"})
        assert done.status_code == 303 and done.headers["location"] == "/today?done=task"
        # Another browser's session has its own token.
        with world.client("procesleder") as second:
            other = second.post(f"/cases/{world.case}/ack", data={"csrf": token})
            assert other.status_code == 403
    with session_factory() as session:
        case = session.get(Escalation, world.case)
        assert case is not None and case.status == EscalationStatus.OPEN
        task = session.get(Task, world.task)
        assert task is not None and task.status == TaskStatus.DONE


def test_logins_are_throttled_per_account_and_the_cookie_is_strict(world: World) -> None:
    with world.client() as client:
        wrong = login(client, world.emails["procesleder"], "forkert adgangskode")
        assert wrong.status_code == 401
        assert "Brugernavn eller adgangskode er forkert" in wrong.text
        for _ in range(4):
            login(client, world.emails["procesleder"], "forkert adgangskode")
        # The sixth try is refused even with the right password, for this account only.
        refused = login(client, world.emails["procesleder"])
        assert refused.status_code == 429
        assert "For mange forsøg" in refused.text
        ok = login(client, world.emails["coordinator"])
        assert ok.status_code == 303
        cookie = ok.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
        assert "Secure" not in cookie  # the public URL is http in this test
    # A login form from elsewhere (no login cookie) is refused before the password is checked.
    with httpx.Client(base_url=world.url) as bare:
        answer = bare.post(
            "/login",
            data={"csrf": "x", "login": world.emails["admin"], "password": PASSWORD},
        )
        assert answer.status_code == 400


def test_logging_out_ends_the_session_and_a_new_password_ends_all(
    world: World, db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with world.client("procesleder") as client:
        token = csrf_of(client.get("/today").text)
        out = client.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login?out=1"
        assert "Du er logget ud" in client.get("/login?out=1").text
    with world.client("admin") as client:
        assert client.get("/today").status_code == 200
        result = cli(db_url, "staff", "passwd", world.emails["admin"], now=NOW)
        # No password on standard input: refused, and the session stays.
        assert result.exit_code == 2, result.output
        assert client.get("/today").status_code == 200
        from click.testing import CliRunner

        from venskab.cli import main
        from venskab.cli.common import AppContext

        app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=NOW)
        changed = CliRunner().invoke(
            main, ["staff", "passwd", world.emails["admin"]], obj=app, input="et helt nyt kodeord\n"
        )
        assert changed.exit_code == 0, changed.output
        assert "et helt nyt kodeord" not in changed.output
        assert client.get("/today").status_code == 302  # signed out everywhere
    with world.client() as client:
        assert login(client, world.emails["admin"]).status_code == 401
        assert login(client, world.emails["admin"], "et helt nyt kodeord").status_code == 303
    with session_factory() as session:
        # Sessions last in real hours, whatever the application's clock says (the sandbox
        # moves it by weeks).
        sessions = session.scalars(select(StaffSession)).all()
        assert sessions
        assert all(s.expires_at - s.created_at == timedelta(hours=12) for s in sessions)
        assert all(s.created_at > NOW + timedelta(days=100) for s in sessions)


def test_coordinators_create_sparring_sessions_and_see_survey_numbers(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    form = {
        "programme": "hjem-til-os",
        "at": "2026-05-05T19:30",
        "region": "Hovedstaden",
        "link": "https://meet.example.org/sparring-maj",
    }
    with world.client("procesleder") as client:
        page = client.get("/sparring")
        assert page.status_code == 200 and "Opret et sparringsmøde" not in page.text
        refused = client.post("/sparring", data={**form, "csrf": csrf_of(page.text)})
        assert refused.status_code == 403
        assert client.get("/surveys").status_code == 403
        assert client.get("/surveys/parent-sample/paired.csv").status_code == 403
        assert 'href="/surveys"' not in page.text
    with world.client("coordinator") as client:
        page = client.get("/sparring")
        token = csrf_of(page.text)
        past = client.post("/sparring", data={**form, "at": "2026-04-01T19:30", "csrf": token})
        assert past.headers["location"] == "/sparring?error=past"
        added = client.post("/sparring", data={**form, "csrf": token})
        assert added.status_code == 303 and added.headers["location"] == "/sparring?done=sparring"
        listed = client.get("/sparring?done=sparring").text
        assert "Familierne inviteres ved næste kørsel" in listed
        assert (
            "5. maj 2026 kl. 19:30" in listed and "https://meet.example.org/sparring-maj" in listed
        )
        surveys = client.get("/surveys")
        assert surveys.status_code == 200 and "Spørgeskemaer" in surveys.text
        assert 'href="/surveys/parent-sample/paired.csv"' in surveys.text
        paired = client.get("/surveys/parent-sample/paired.csv")
        assert paired.status_code == 200 and paired.text.startswith("match_pid,respondent_pid")
        assert "attachment" in paired.headers["content-disposition"]
        assert client.get("/surveys/no-such/paired.csv").status_code == 404
    with session_factory() as session:
        row = session.scalars(
            select(SparringSession).where(SparringSession.meeting_link.is_not(None))
        ).one()
        assert row.region == "Hovedstaden"
        assert row.starts_at.isoformat() == "2026-05-05T17:30:00+00:00"


def test_behind_https_the_session_cookie_is_secure_and_host_only(world: World, db_url: str) -> None:
    port = free_port()
    context = AppContext(
        env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_PUBLIC_URL": "https://venskab.example.org"},
        now_override=NOW,
    )
    try:
        with (
            serving(create_app(context.services), port),
            httpx.Client(base_url=f"http://127.0.0.1:{port}") as client,
        ):
            page = client.get("/login")
            assert "Secure" in page.headers["set-cookie"]
            # The browser would not send a Secure cookie back over http: the test does.
            client.cookies.set("venskab_login", page.cookies["venskab_login"])
            answer = client.post(
                "/login",
                data={
                    "csrf": csrf_of(page.text),
                    "login": world.emails["admin"],
                    "password": PASSWORD,
                },
            )
            assert answer.status_code == 303
            cookie = answer.headers["set-cookie"]
            assert cookie.startswith("__Host-venskab=")
            assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie
            assert "Domain" not in cookie
    finally:
        context.close()


def test_a_staff_member_who_reads_english_gets_english_pages_and_dates(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        admin = session.scalars(select(Staff).where(Staff.email == world.emails["admin"])).one()
        admin.locale = Locale.EN
    with world.client("admin") as client:
        today = client.get("/today").text
        assert "Today, Tuesday 14 April" in today and "My open cases" in today
        assert "A message from the volunteer family" in today
        match = client.get(f"/matches/{world.match}").text
        assert (
            "Year wheel" in match and "Week 7 of 52" in match and "started Mon 2 Mar 2026" in match
        )
        assert 'lang="en"' in match


hostile = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    ["", "2026-02-30", "9999-12-31T23:59", "-1", "\x00\x1b[2J", "' OR 1=1 --", "x" * 3000]
)
FIELDS = [
    "note",
    "text",
    "days",
    "outcome",
    "to",
    "from",
    "on",
    "by",
    "reason",
    "at",
    "start",
    "why",
    "family",
]


@given(
    action=st.sampled_from(
        [
            "/cases/{case}/ack",
            "/cases/{case}/snooze",
            "/cases/{case}/resolve",
            "/tasks/{task}",
            "/matches/{match}/pause",
            "/matches/{match}/resume",
            "/matches/{match}/end",
            "/matches/{match}/rematch",
            "/matches/{match}/note",
            "/matches/{match}/start",
            "/outbox/{message}/edit",
            "/outbox/{message}/reschedule",
            "/sparring",
        ]
    ),
    data=st.dictionaries(st.sampled_from(FIELDS), hostile, max_size=6),
    login_value=hostile,
    password=hostile,
)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_any_staff_form_and_any_login_is_answered_without_a_500(
    world: World,
    session_factory: sessionmaker[Session],
    action: str,
    data: dict[str, str],
    login_value: str,
    password: str,
) -> None:
    ACCOUNT_FAILURES.reset()
    ADDRESS_FAILURES.reset()
    message = _planned(session_factory, world.match)
    path = action.format(case=world.case, task=world.task, match=world.match, message=message)
    # One signed-in session for every example of this test (a login costs an argon2 hash).
    cookie = world.saved.get("admin")
    if cookie is None:
        with world.client("admin") as client:
            cookie = world.saved["admin"] = dict(client.cookies)
    with httpx.Client(base_url=world.url, cookies=cookie, timeout=10) as client:
        token = csrf_of(client.get("/today").text)
        answer = client.post(path, data={**data, "csrf": token})
        assert answer.status_code in {303, 400, 403, 404, 413}, (path, answer.status_code)
        if answer.status_code == 303:
            after = client.get(answer.headers["location"])
            assert after.status_code == 200
    with world.client() as client:
        page = client.get("/login")
        answer = client.post(
            "/login", data={"csrf": csrf_of(page.text), "login": login_value, "password": password}
        )
        assert answer.status_code in {401, 413, 429}, answer.status_code


def test_today_lists_visits_nobody_confirmed_and_surveys_waiting_for_a_call(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        prompt = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.match_id == world.match,
                OutboxMessage.kind == "visit_prompt",
                OutboxMessage.occurrence_key.like("2026-04-13%"),
            )
        ).first()
        assert prompt is not None
        prompt.status = OutboxStatus.SENT  # it went out; nobody answered
        prompt.sent_at = prompt.due_at
        match = session.get(Match, world.match)
        assert match is not None
        session.add(
            Task(
                idempotency_key="survey:1:r3",
                match_id=world.match,
                kind="call",
                title="Ring til forælderen om spørgeskemaet",
                owner_id=match.staff_id,
                due_at=NOW - timedelta(hours=2),
            )
        )
    with world.client("procesleder") as client:
        today = client.get("/today").text
        visits = today.split('id="visits-h"')[1].split("</section>")[0]
        assert "Besøg, der ikke er bekræftet (1)" in today
        assert "Barn A · Familien Eksempel" in visits and "man. 13. apr. 2026" in visits
        surveys = today.split('id="surveys-h"')[1].split("</section>")[0]
        assert "Ring til forælderen om spørgeskemaet" in surveys
        tasks = today.split('id="tasks-h"')[1].split("</section>")[0]
        assert "spørgeskemaet" not in tasks and "Ring til forælderen efter første besøg" in tasks
    with world.client("other") as client:
        assert "Besøg, der ikke er bekræftet (0)" in client.get("/today").text


def test_a_contact_recorded_on_the_match_page_counts_for_the_contact_standard(
    world: World, session_factory: sessionmaker[Session]
) -> None:
    """A call with the family, recorded in the browser: the matches page says when staff last
    spoke with each party, and a date in the future is refused politely."""
    from store.models import StaffContact

    with world.client("procesleder") as client:
        page = client.get(f"/matches/{world.match}")
        assert "Registrér kontakten" in page.text
        token = csrf_of(page.text)
        done = client.post(
            f"/matches/{world.match}/contact",
            data={"csrf": token, "with": "volunteer_family", "kind": "call", "on": "2026-04-13"},
        )
        assert done.status_code == 303
        assert "Kontakten er registreret." in client.get(done.headers["location"]).text
        future = client.post(
            f"/matches/{world.match}/contact",
            data={"csrf": token, "with": "contact_person", "kind": "visit", "on": "2026-05-01"},
        )
        assert "datoen ligger i fremtiden" in client.get(future.headers["location"]).text
        listing = client.get("/matches")
        assert "Talt med familien</dt><dd>for 1 dag siden" in listing.text
    with session_factory() as session:
        recorded = session.scalars(select(StaffContact)).all()
    assert [(c.party, c.kind, c.on_date.isoformat()) for c in recorded] == [
        ("volunteer_family", "call", "2026-04-13")
    ]
