"""Survey definitions as data: the shipped files load, programmes only use surveys that exist,
our sample wording is our own, and a broken file is reported so that it can be fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from followup.survey_defs import (
    MAX_SMS_QUESTIONS,
    SURVEYS_DIR,
    SurveyDefinitionError,
    load_surveys,
    parse_survey,
    sms_answer,
)
from tests.support.cast import PROGRAMMES
from venskab.cli import main

SHIPPED = load_surveys()

# Items of licensed instruments (SWEMWBS, the Parental Stress Scale): never in our files.
LICENSED = (
    "optimistic about the future",
    "feeling useful",
    "feeling relaxed",
    "dealing with problems well",
    "thinking clearly",
    "close to other people",
    "make up my own mind",
    "happy in my role as a parent",
    "little or nothing i wouldn't do for my child",
)


def minimal(**changes: Any) -> dict[str, Any]:
    survey: dict[str, Any] = {
        "id": "test-survey",
        "title": {"da": "Test", "en": "Test"},
        "pages": [
            {
                "questions": [
                    {
                        "id": "q1",
                        "type": "scale",
                        "text": {"da": "Hvordan?", "en": "How?"},
                        "labels": {
                            "da": ["a", "b", "c", "d", "e"],
                            "en": ["a", "b", "c", "d", "e"],
                        },
                    },
                ]
            }
        ],
    }
    survey.update(changes)
    return survey


def problems(raw: Any) -> list[str]:
    with pytest.raises(SurveyDefinitionError) as caught:
        parse_survey(raw, "surveys/test-survey.yaml")
    return caught.value.problems


def test_the_shipped_surveys_load_in_danish_and_english() -> None:
    assert {"parent-sample", "parent-short", "example-external"} <= set(SHIPPED)
    for survey in SHIPPED.values():
        for question in survey.questions:
            assert question.text["da"] and question.text["en"]


def test_every_programme_survey_touchpoint_names_a_survey_that_exists() -> None:
    used = {tp.survey for p in PROGRAMMES.values() for tp in p.touchpoints if tp.survey}
    assert used and used <= set(SHIPPED)


def test_the_sample_wording_is_our_own() -> None:
    for path in SURVEYS_DIR.glob("*.yaml"):
        text = path.read_text(encoding="utf-8").lower()
        for item in LICENSED:
            assert item not in text, (path.name, item)


def test_questions_asked_in_every_wave_can_be_paired() -> None:
    sample = SHIPPED["parent-sample"]
    baseline = {q.id for q in sample.questions_for("baseline")}
    end = {q.id for q in sample.questions_for("end")}
    assert {"parent_everyday", "parent_talk", "child_wellbeing"} <= baseline & end
    assert "visits_good" in end - baseline


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"title": {"da": "Kun dansk"}}, "field 'title': needs a text in en"),
        (
            {
                "pages": [
                    {
                        "questions": [
                            {
                                "id": "q1",
                                "type": "scale",
                                "text": {"da": "a", "en": "b"},
                                "labels": {"da": ["1", "2"], "en": ["1", "2"]},
                            }
                        ]
                    }
                ]
            },
            "page 1, question 'q1': labels.da: expected 5 labels",
        ),
        (
            {
                "pages": [
                    {
                        "questions": [
                            {
                                "id": "q1",
                                "type": "choice",
                                "text": {"da": "a", "en": "b"},
                                "options": [{"value": "yes", "text": {"da": "Ja", "en": True}}],
                            }
                        ]
                    }
                ]
            },
            "put quotes around yes, no, on and off",
        ),
        (
            {
                "pages": [
                    {"questions": [{"id": "Q 1", "type": "text", "text": {"da": "a", "en": "b"}}]}
                ]
            },
            "page 1, question 'Q 1', field 'id'",
        ),
        ({"colour": "blue"}, "field 'colour': unknown field"),
        ({"external_url": "https://survey.example.org/r"}, "put {token} once"),
        ({"external_url": "http://survey.example.org/{token}"}, "expected an https:// address"),
    ],
)
def test_a_broken_file_is_reported_with_page_question_and_field(
    change: dict[str, Any], expected: str
) -> None:
    found = problems(minimal(**change))
    assert any(expected in p for p in found), found


def test_an_sms_survey_is_short_and_answered_with_digits() -> None:
    scale = minimal()["pages"][0]["questions"][0]
    too_many = [{**scale, "id": f"q{i}"} for i in range(MAX_SMS_QUESTIONS + 1)]
    assert any(
        "at most 5 questions" in p
        for p in problems(minimal(sms_conversation=True, pages=[{"questions": too_many}]))
    )
    text = {"id": "note", "type": "text", "text": {"da": "Andet?", "en": "Other?"}}
    assert any(
        "no text questions" in p
        for p in problems(minimal(sms_conversation=True, pages=[{"questions": [scale, text]}]))
    )
    wordy = {**scale, "text": {"da": "Hvordan " * 60, "en": "How?"}}
    assert any(
        "shorten the text" in p
        for p in problems(minimal(sms_conversation=True, pages=[{"questions": [wordy]}]))
    )

    short = SHIPPED["parent-short"]
    adults = short.question("child_adults")
    assert [sms_answer(adults, d) for d in ("1", "3", "4", "5", "0", "12", "ja")] == [
        "none",
        "several",
        "unsure",
        None,
        None,
        None,
        None,
    ]
    assert sms_answer(short.question("parent_everyday"), "5.") == "5"


def test_survey_check_reports_every_problem_and_exits_with_status_2(tmp_path: Path) -> None:
    good = tmp_path / "test-survey.yaml"
    good.write_text(yaml.safe_dump(minimal(), allow_unicode=True), encoding="utf-8")
    bad = tmp_path / "broken.yaml"
    bad.write_text("id: broken\ntitle: {da: x}\npages: []\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["survey", "check", str(good), str(bad)])
    assert result.exit_code == 2
    assert f"{good}: ok (test-survey, 1 questions)" in result.output
    assert "field 'title': needs a text in en" in result.output
    assert "field 'pages'" in result.output


def test_survey_list_shows_which_programmes_use_which_survey() -> None:
    result = CliRunner().invoke(main, ["survey", "list"])
    assert result.exit_code == 0, result.output
    assert "parent-short" in result.output and "web + sms" in result.output
    assert "hjem-til-os" in result.output


def _scored(**score: Any) -> dict[str, Any]:
    scale = {
        "type": "scale",
        "text": {"da": "Hvordan?", "en": "How?"},
        "labels": {"da": list("abcde"), "en": list("abcde")},
    }
    questions = [{**scale, "id": f"q{n}"} for n in range(1, 4)]
    questions.append({"id": "note", "type": "text", "text": {"da": "Andet?", "en": "Else?"}})
    score = {"id": "total", "text": {"da": "I alt", "en": "Total"}, **score}
    return minimal(pages=[{"questions": questions}], scores=[score])


def test_a_scale_score_sums_reverses_prorates_and_leaves_too_few_answers_empty() -> None:
    survey = parse_survey(_scored(items=["q1", "q2", "q3"], reverse=["q3"], min_answered=2))
    [score] = survey.scores
    questions = {q.id: q for q in survey.questions}
    assert score.value({"q1": "5", "q2": "4", "q3": "1"}, questions) == "14"  # 5 + 4 + (6 - 1)
    assert score.value({"q1": "5", "q2": "4"}, questions) == "13.5"  # 4.5 x 3 items
    assert score.value({"q1": "5", "q2": "x", "q3": "9"}, questions) == ""  # one valid answer
    mean = parse_survey(_scored(items=["q1", "q2"], method="mean")).scores[0]
    assert mean.value({"q1": "2", "q2": "5"}, questions) == "3.50"


def test_a_score_over_a_question_that_is_not_a_scale_is_refused() -> None:
    found = problems(_scored(items=["q1", "note"]))
    assert any("'note' is not a scale question" in p for p in found), found
    found = problems(_scored(items=["q1", "q2"], reverse=["q3"]))
    assert any("reverse names items that are not in items" in p for p in found), found
