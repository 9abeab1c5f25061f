"""The building blocks of a programme file: strict models, offsets and times as YAML writes
them, and the names a touchpoint uses (kinds, audiences, channels, cadences, anchors)."""

from __future__ import annotations

from datetime import time
from enum import StrEnum
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
)

from scheduler.offsets import Offset, parse_offset, parse_time

OffsetField = Annotated[Offset, BeforeValidator(parse_offset)]
TimeField = Annotated[time, BeforeValidator(parse_time)]


class Kind(StrEnum):
    VISIT_PROMPT = "visit_prompt"
    MESSAGE = "message"
    CALL = "call"
    SURVEY = "survey"
    SPARRING_INVITE = "sparring_invite"
    STAFF_TASK = "staff_task"
    # A week or so before a school holiday: do visits go on? "No" pauses them for the holiday.
    HOLIDAY_QUESTION = "holiday_question"


class AudienceName(StrEnum):
    VOLUNTEER_FAMILY = "volunteer_family"
    CONTACT_PERSON = "contact_person"
    STAFF = "staff"


class ChannelName(StrEnum):
    TELEGRAM = "telegram"
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"


class CadenceName(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    TWO_THREE_MONTHLY = "two_three_monthly"


ANCHORS = frozenset({"match_start", "match_end", "early_end", "sparring_session", "school_holiday"})


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
