"""Survey definitions as data: the schema of ``surveys/*.yaml`` and its loader.

A survey is a list of pages, each a list of questions. A question is a scale (one label per
point, 1-5 by default), a single choice, or free text, with its wording in Danish and English
(other locales may be added). ``waves`` limits a question to some waves (e.g. questions about
the experience only at the end); the others are asked in every wave, which is what lets the
export pair baseline and end answers per match.

A survey may also:

- run as an SMS conversation (``sms_conversation: true``): one question per message, answered
  with a digit. At most :data:`MAX_SMS_QUESTIONS` scale or choice questions per wave, at most
  nine answers each, and every question message must fit in :data:`scheduler.sms.MAX_SEGMENTS`
  GSM-7 segments in every locale;
- live in an external survey tool (``external_url`` with a ``{token}`` placeholder): the personal
  link then records the opening and forwards to that URL.

:func:`load_survey` reports every problem with file, question id and field, like the programme
loader, so that whoever edits the YAML can fix it without reading Python.
"""

from __future__ import annotations

from followup.survey_defs.loading import (
    SURVEYS_DIR,
    SurveyDefinitionError,
    default_surveys,
    load_survey,
    load_surveys,
    parse_survey,
)
from followup.survey_defs.questions import (
    MOMENT_WAVE,
    REQUIRED_LOCALES,
    Option,
    Question,
    sms_answer,
    sms_question,
    sms_range,
    tr,
    wave_order,
)
from followup.survey_defs.survey import MAX_SMS_QUESTIONS, WAVES, Page, Score, Survey

__all__ = [
    "MAX_SMS_QUESTIONS",
    "MOMENT_WAVE",
    "REQUIRED_LOCALES",
    "SURVEYS_DIR",
    "WAVES",
    "Option",
    "Page",
    "Question",
    "Score",
    "Survey",
    "SurveyDefinitionError",
    "default_surveys",
    "load_survey",
    "load_surveys",
    "parse_survey",
    "sms_answer",
    "sms_question",
    "sms_range",
    "tr",
    "wave_order",
]
