"""CPR numbers: the pattern finds candidates, python-stdnum's ``stdnum.dk.cpr`` confirms them,
and the marker is in the person's own language."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from followup.survey_defs import default_surveys
from followup.survey_results import save_answers
from scheduler.links import find_by_token
from store.models import Locale
from store.validation import contains_cpr, redact_cpr
from tests.support.cast import make_match
from tests.support.survey_app import invite


@pytest.mark.parametrize("text", ["010203-1234", "0102031234", "311299-1234", "150385 1231"])
def test_a_real_cpr_number_is_found_and_replaced(text: str) -> None:
    assert contains_cpr(f"mit nummer er {text}.")
    assert redact_cpr(f"mit nummer er {text}.") == "mit nummer er [CPR-nummer fjernet]."


@pytest.mark.parametrize(
    "text",
    [
        "3102031234",  # 31 February: no one's birthday
        "0013991234",  # month 13 cannot come from the pattern, day 00 can
        "0000001234",
        "2918881234",  # month 18
    ],
)
def test_other_ten_digit_numbers_are_left_alone(text: str) -> None:
    assert not contains_cpr(f"ordrenummer {text}")
    assert redact_cpr(f"ordrenummer {text}") == f"ordrenummer {text}"


def test_the_marker_is_in_the_persons_language() -> None:
    assert redact_cpr("CPR 010203-1234", "da") == "CPR [CPR-nummer fjernet]"
    assert redact_cpr("CPR 010203-1234", "en") == "CPR [CPR number removed]"


def test_an_english_speaking_parent_gets_the_english_marker_in_a_survey_comment(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory.begin() as session:
        match = make_match(session)
        match.contacts[0].locale = Locale.EN
        token = invite(session, match)
        found = find_by_token(session, token)
        assert found is not None
        stored = save_answers(
            session,
            found,
            default_surveys()["parent-sample"],
            {"comment": "My CPR is 010203-1234"},
            found.created_at,
        )
    assert stored["comment"] == "My CPR is [CPR number removed]"
