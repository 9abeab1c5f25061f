"""The survey pages at /s/<token>, over a real socket: partial answers, completion, expired, used
and unknown links, and what a tampered or foreign token shows (nothing of anyone).

The live app with a settable clock, invitations and signed Twilio posts are in
``tests.support.survey_app``, shared with the other survey and inbound test modules.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from scheduler.links import _token
from store.models import Locale
from tests.support import survey_app
from tests.support.cast import make_match
from tests.support.survey_app import (
    LiveApp,
    answers,
    has_checked_radio,
    invitation,
    invite,
    visible_text,
)

# The live web app (module-scoped server, per-test clock).
_served = survey_app._served
live = survey_app.live

# -- the tests ---------------------------------------------------------------------------------


def test_it_keeps_partial_answers_and_resumes_where_the_parent_left_off(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))

    first = live.client.get(f"/s/{token}")
    assert first.status_code == 200
    text = visible_text(first.text)
    assert "Kort spørgeskema til forældre" in text and "Side 1 af 3" in text
    assert "Hvordan har du det i din hverdag for tiden?" in text
    assert invitation(session_factory, token).opened_at is not None

    saved = live.client.post(
        f"/s/{token}/1?lang=da",
        data={"q_parent_everyday": "2", "q_parent_talk": "4", "nav": "next"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == f"/s/{token}/2?lang=da"
    assert answers(session_factory, token) == {"parent_everyday": "2", "parent_talk": "4"}

    # The parent closes the phone and comes back through the SMS link a day later.
    back = visible_text(live.client.get(f"/s/{token}").text)
    assert "Velkommen tilbage" in back and "Side 2 af 3" in back and "Dit barn" in back
    page_one = live.client.get(f"/s/{token}/1").text
    assert re.search(r'value="2" checked', page_one) and re.search(r'value="4" checked', page_one)
    assert invitation(session_factory, token).completed_at is None


def test_it_completes_on_the_last_page_and_then_calls_the_link_used(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))

    live.client.post(f"/s/{token}/1", data={"q_parent_everyday": "3", "nav": "next"})
    live.client.post(f"/s/{token}/2", data={"q_child_adults": "several", "nav": "next"})
    went_back = live.client.post(f"/s/{token}/3", data={"q_comment": "", "nav": "back"})
    assert went_back.headers["location"].startswith(f"/s/{token}/2")
    done = live.client.post(
        f"/s/{token}/3", data={"q_comment": "Tak for en god start", "nav": "next"}
    )
    assert done.status_code == 303 and done.headers["location"].startswith(f"/s/{token}/done")
    thanks = live.client.get(done.headers["location"])
    assert thanks.status_code == 200 and "Tak for dine svar" in thanks.text

    assert answers(session_factory, token) == {
        "parent_everyday": "3",
        "child_adults": "several",
        "comment": "Tak for en god start",
    }
    assert invitation(session_factory, token).completed_at is not None
    used = live.client.get(f"/s/{token}")
    assert "allerede besvaret" in used.text and "<form" not in used.text
    again = live.client.post(f"/s/{token}/1", data={"q_parent_everyday": "5", "nav": "next"})
    assert "allerede besvaret" in again.text
    assert answers(session_factory, token)["parent_everyday"] == "3"


def test_a_tampered_or_foreign_token_shows_nothing_of_anyone(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        first = make_match(session)
        second = make_match(session, telegram_chat_id=5002)
        second.contacts[0].name = "Forælder B"
        second.child.first_name = "Barn B"
        token_a = invite(session, first)
        token_b = invite(session, second)
        foreign = _token("another deployment's secret", 1, "0" * 32)
    live.client.post(f"/s/{token_a}/1", data={"q_parent_everyday": "1", "nav": "next"})
    live.client.post(
        f"/s/{token_a}/3", data={"q_comment": "Privat besked fra forælder A", "nav": "back"}
    )

    tampered = token_a[:-2] + ("AB" if token_a[-2:] != "AB" else "CD")
    for bad in (tampered, foreign, token_a[:20], "x" * 500, "' OR '1'='1"):
        for path in (f"/s/{bad}", f"/s/{bad}/1", f"/s/{bad}/3", f"/s/{bad}/done"):
            response = live.client.get(path)
            assert response.status_code == 404, (bad, path)
            page = visible_text(response.text)
            assert "Linket virker ikke" in page and "This link does not work" in page
            for private in (
                "Forælder",
                "Barn A",
                "Barn B",
                "Familien",
                "Procesleder",
                "Privat besked",
            ):
                assert private not in page
            assert not has_checked_radio(response.text)
        posted = live.client.post(f"/s/{bad}/1", data={"q_parent_everyday": "5"})
        assert posted.status_code == 404
    # The other parent's own link opens only their survey: none of parent A's answers.
    page_b = live.client.get(f"/s/{token_b}/3").text
    assert "Privat besked" not in page_b
    assert not has_checked_radio(live.client.get(f"/s/{token_b}/1").text)
    assert answers(session_factory, token_b) == {}
    assert answers(session_factory, token_a) == {
        "parent_everyday": "1",
        "comment": "Privat besked fra forælder A",
    }


def test_the_pages_never_name_the_child_the_family_or_the_parent(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    # A link can be forwarded or seen over a shoulder: the questions, but no names.
    with session_factory.begin() as session:
        token = invite(session, make_match(session), wave="end")
    pages = [live.client.get(f"/s/{token}/{n}").text for n in (1, 2, 3)]
    for page in pages:
        for name in ("Barn A", "Familien Eksempel", "Forælder", "Procesleder", "+4520"):
            assert name not in page
    assert "Hvordan har besøgene hos venskabsfamilien været for dit barn?" in pages[2]


def test_an_expired_link_gets_its_own_page_in_the_parents_language(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(
            session,
            make_match(session, parent_locale=Locale.EN),
            now=datetime.now(UTC) - timedelta(days=120),
        )
    page = live.client.get(f"/s/{token}")
    assert page.status_code == 410
    assert "This link has expired" in page.text and '<html lang="en" dir="ltr">' in page.text
    assert "Linket er udløbet" in live.client.get(f"/s/{token}?lang=da").text
    posted = live.client.post(f"/s/{token}/1", data={"q_parent_everyday": "4", "nav": "next"})
    assert posted.status_code == 410 and answers(session_factory, token) == {}


def test_it_speaks_english_to_an_english_parent_and_switches_on_request(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session, parent_locale=Locale.EN))
    english = visible_text(live.client.get(f"/s/{token}").text)
    assert "Short questionnaire for parents" in english and "Page 1 of 3" in english
    danish = visible_text(live.client.get(f"/s/{token}/1?lang=da").text)
    assert "Kort spørgeskema til forældre" in danish
    moved = live.client.post(f"/s/{token}/1?lang=da", data={"nav": "next"})
    assert moved.headers["location"].endswith("/2?lang=da")


def test_free_text_is_stored_without_cpr_numbers(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    live.client.post(
        f"/s/{token}/3", data={"q_comment": "Mit CPR er 010203-1234, ring gerne", "nav": "back"}
    )
    assert answers(session_factory, token) == {
        "comment": "Mit CPR er [CPR-nummer fjernet], ring gerne"
    }


def test_the_pages_keep_the_link_out_of_referrers_caches_and_search_engines(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    for response in (live.client.get(f"/s/{token}"), live.client.get("/s/not-a-token")):
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["cache-control"] == "no-store"
        assert "noindex" in response.headers["x-robots-tag"]
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert "<script" not in response.text


def test_a_link_preview_does_not_count_as_opened(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    assert live.client.head(f"/s/{token}").status_code == 200
    assert invitation(session_factory, token).opened_at is None
    live.client.get(f"/s/{token}")
    assert invitation(session_factory, token).opened_at is not None


def test_an_external_survey_link_records_the_opening_and_forwards_with_the_token(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        token = invite(session, make_match(session), survey="example-external")
    response = live.client.get(f"/s/{token}")
    assert response.status_code == 303
    assert (
        response.headers["location"] == f"https://survey.example.org/r/parents?respondent={token}"
    )
    assert invitation(session_factory, token).opened_at is not None


def test_a_double_tap_on_a_slow_connection_stores_the_page_once(
    live: LiveApp, session_factory: sessionmaker[Session]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with session_factory.begin() as session:
        token = invite(session, make_match(session))
    form = {"q_parent_everyday": "4", "q_parent_talk": "2", "nav": "next"}

    def tap(_: int) -> int:
        with httpx.Client(base_url=live.url, timeout=10) as client:
            return client.post(f"/s/{token}/1", data=form).status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(tap, range(4)))
    assert statuses == [303, 303, 303, 303]
    assert answers(session_factory, token) == {"parent_everyday": "4", "parent_talk": "2"}
