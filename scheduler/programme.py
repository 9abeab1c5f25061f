"""Programmes as data: the schema of ``programmes/*.yaml`` and its loader.

A programme is a list of touchpoints. A touchpoint is an anchor (match start, match end, an
early end, a sparring session, or another touchpoint) plus an offset, an optional repetition,
a local delivery time, an audience, a kind, the channels to try, a template and an expiry.
(The shape follows RapidPro's ``CampaignEvent``: relative_to, offset, unit, delivery_hour.)

:func:`load_programme` reports every problem precisely: file, touchpoint id, field, and what
was expected, so that a staff member editing YAML can fix it without reading Python.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, time
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from dateutil.relativedelta import relativedelta
from pydantic import (
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from scheduler.offsets import Offset, parse_time
from scheduler.programme_fields import (
    ANCHORS,
    AudienceName,
    CadenceName,
    ChannelName,
    Kind,
    OffsetField,
    Strict,
    TimeField,
)
from scheduler.programme_sections import (
    Certificates,
    ContactStandard,
    Escalations,
    Moments,
    Sparring,
    Waiting,
)
from scheduler.retry import RetrySpec
from scheduler.yaml_problems import not_utf8, yaml_problem

PROGRAMMES_DIR = Path(__file__).resolve().parent.parent / "programmes"


# LibYAML's safe loader when it is built in (several times faster), else the pure-Python one.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class Repeat(Strict):
    """``every`` repeats from the first occurrence; it stops at ``until``, after ``count``, or
    when the match ends, whichever comes first."""

    every: OffsetField
    # None: until the match ends (for an open-ended programme: the planning horizon).
    # An offset: counted from the touchpoint's first occurrence.
    until: OffsetField | None = None
    count: int | None = Field(default=None, ge=1, le=500)

    @field_validator("every")
    @classmethod
    def _positive(cls, value: Offset) -> Offset:
        probe = date(2026, 1, 1)
        if probe + value.delta <= probe:
            raise ValueError("must be a positive duration such as 2w or 2mo")
        return value


class Reminder(Strict):
    """A reminder after the original send, while the recipient has not responded."""

    after: OffsetField
    channel: ChannelName | None = None  # None: the same channel as the original
    staff_task: bool = False  # instead of a message, give the staff member a call task


class Touchpoint(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    kind: Kind
    anchor: str = "match_start"
    offset: OffsetField = Offset("0d", relativedelta())
    repeat: Literal["visits"] | Repeat | None = None
    at: TimeField | None = None
    working_day: bool | None = None
    audience: AudienceName
    channels: tuple[ChannelName, ...] = ()
    # "preference": a person's preferred channel among these wins; "as_listed": the first one the
    # person can receive wins, whatever they prefer (e.g. the farewell by email first).
    channel_order: Literal["preference", "as_listed"] = "preference"
    template: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,64}$")
    expiry: OffsetField | None = None
    retry: RetrySpec | None = None  # changes the channel's retry policy for this touchpoint
    reminders: tuple[Reminder, ...] = ()
    essential: bool = False
    ended_by: tuple[str, ...] = ()
    skip_if_ended_early: bool = False
    min_match_days: int | None = Field(default=None, ge=0)
    survey: str | None = None
    # baseline | end | followup, or a moment N months into the match ("3mo", "9mo")
    wave: str | None = Field(default=None, pattern=r"^(baseline|end|followup|[1-9]\d?mo)$")
    counterpart: AudienceName | None = None
    announce: OffsetField | None = None
    title: dict[str, str] = Field(default_factory=dict)

    @field_validator("anchor")
    @classmethod
    def _anchor(cls, value: str) -> str:
        if value in ANCHORS:
            return value
        if re.fullmatch(r"touchpoint:[a-z0-9][a-z0-9-]{0,62}", value):
            return value
        raise ValueError(
            "expected match_start, match_end, early_end, sparring_session, school_holiday "
            "or touchpoint:<id>"
        )

    @field_validator("ended_by")
    @classmethod
    def _ended_by(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = {"volunteer_family", "child_family", "organisation", "unreachable"}
        for item in value:
            if item not in allowed:
                raise ValueError(f"expected some of {', '.join(sorted(allowed))}, got {item!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Touchpoint:
        if self.repeat == "visits" and self.kind != Kind.VISIT_PROMPT:
            raise ValueError("repeat: visits is only for kind visit_prompt")
        if self.kind == Kind.VISIT_PROMPT and self.repeat != "visits":
            raise ValueError("a visit_prompt needs repeat: visits")
        if self.kind == Kind.SURVEY and not (self.survey and self.wave):
            raise ValueError("a survey touchpoint needs survey and wave")
        if (self.kind == Kind.HOLIDAY_QUESTION) != (self.anchor == "school_holiday"):
            raise ValueError("a holiday_question has anchor: school_holiday, and only it has")
        if self.kind == Kind.HOLIDAY_QUESTION and self.audience != AudienceName.VOLUNTEER_FAMILY:
            raise ValueError(
                "a holiday_question asks the volunteer family: audience volunteer_family"
            )
        if self.ended_by and self.anchor != "early_end":
            raise ValueError("ended_by only applies to anchor: early_end")
        if self.audience != AudienceName.STAFF and not self.channels:
            raise ValueError("channels: list the channels to try, e.g. [telegram, sms]")
        if self.kind in {Kind.CALL, Kind.STAFF_TASK} and self.audience != AudienceName.STAFF:
            raise ValueError(f"a {self.kind.value} is a staff task: audience must be staff")
        return self

    @property
    def template_name(self) -> str:
        return self.template or self.id.replace("-", "_")

    @property
    def on_working_day(self) -> bool:
        """Staff tasks and calls move off weekends and Danish public holidays by default."""
        if self.working_day is not None:
            return self.working_day
        return self.kind in {Kind.CALL, Kind.STAFF_TASK}

    @property
    def is_task(self) -> bool:
        return self.kind in {Kind.CALL, Kind.STAFF_TASK}


class QuietHours(Strict):
    weekdays: str = "08:00-20:00"
    weekends: str = "10:00-18:00"

    @field_validator("weekdays", "weekends")
    @classmethod
    def _window(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError("expected a window such as 08:00-20:00")
        start, end = value.split("-")
        if start >= end:
            raise ValueError("the window must start before it ends, within one day")
        return value

    def window(self, weekend: bool) -> tuple[time, time]:
        start, end = (self.weekends if weekend else self.weekdays).split("-")
        return parse_time(start), parse_time(end)


class StaffTitle(StrEnum):
    """What a programme calls the staff member who follows a match (the words are in the
    catalogs: :func:`scheduler.i18n.staff_title`)."""

    PROCESLEDER = "procesleder"  # Mentorbarn
    KONTAKTPERSON = "kontaktperson"  # Red Barnet: "din kontaktperson i Red Barnet"
    AKTIVITETSLEDER = "aktivitetsleder"  # Red Cross
    FRIVILLIGKOORDINATOR = "frivilligkoordinator"  # Red Cross


class Programme(Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    name: str
    organisation: str = ""
    staff_title: StaffTitle = StaffTitle.PROCESLEDER
    description: dict[str, str] = Field(default_factory=dict)
    duration: OffsetField | None = None  # None: open-ended (Mentorbarn)
    cadence: CadenceName = CadenceName.WEEKLY
    visit_prompt_at: TimeField = time(19, 0)
    locales: tuple[str, ...] = ("da", "en")
    quiet_hours: dict[ChannelName, QuietHours] = Field(default_factory=dict)
    retry: dict[ChannelName, RetrySpec] = Field(default_factory=dict)  # per channel
    escalation: Escalations = Field(default_factory=Escalations)
    sparring: Sparring | None = None
    contact_standard: ContactStandard | None = None
    waiting: Waiting | None = None
    certificates: Certificates | None = None
    moments: Moments = Field(default_factory=Moments)
    touchpoints: tuple[Touchpoint, ...]
    source_hash: str = ""

    @field_validator("locales")
    @classmethod
    def _locales_have_catalogs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from scheduler import i18n

        known = [lang.code for lang in i18n.languages()]
        for code in value:
            if code not in known:
                raise ValueError(
                    f"no message catalog for language {code!r}; the languages are "
                    f"{', '.join(known)} (a language is added as locale/<code>/LC_MESSAGES/messages.po)"
                )
        return value

    @model_validator(mode="after")
    def _references(self) -> Programme:
        ids = [tp.id for tp in self.touchpoints]
        seen: set[str] = set()
        for index, tp_id in enumerate(ids):
            if tp_id in seen:
                raise _TouchpointError(index, "id", f"duplicate touchpoint id {tp_id!r}")
            seen.add(tp_id)
        for index, tp in enumerate(self.touchpoints):
            if tp.anchor.startswith("touchpoint:"):
                target = tp.anchor.split(":", 1)[1]
                if target not in seen:
                    raise _TouchpointError(index, "anchor", f"no touchpoint with id {target!r}")
                if target == tp.id:
                    raise _TouchpointError(index, "anchor", "a touchpoint cannot anchor on itself")
        self._check_cycles()
        return self

    def _check_cycles(self) -> None:
        by_id = {tp.id: tp for tp in self.touchpoints}
        for index, tp in enumerate(self.touchpoints):
            seen = {tp.id}
            current = tp
            while current.anchor.startswith("touchpoint:"):
                nxt = current.anchor.split(":", 1)[1]
                if nxt in seen:
                    raise _TouchpointError(
                        index, "anchor", "touchpoints anchor on each other in a loop"
                    )
                seen.add(nxt)
                current = by_id[nxt]

    @property
    def asks_about_school_holidays(self) -> bool:
        return any(tp.anchor == "school_holiday" for tp in self.touchpoints)

    def touchpoint(self, touchpoint_id: str) -> Touchpoint:
        for tp in self.touchpoints:
            if tp.id == touchpoint_id:
                return tp
        raise KeyError(touchpoint_id)

    def quiet_hours_for(self, channel: str) -> QuietHours | None:
        """Sending window per channel; Telegram and email have none unless configured."""
        name = ChannelName(channel)
        if name in self.quiet_hours:
            return self.quiet_hours[name]
        if name in {ChannelName.SMS, ChannelName.VOICE}:
            return QuietHours()
        return None


class _TouchpointError(ValueError):
    """Raised inside validation so that the report can name the touchpoint by id."""

    def __init__(self, index: int, field: str, message: str) -> None:
        super().__init__(message)
        self.index = index
        self.field = field


class ProgrammeError(ValueError):
    """A programme file is malformed. ``problems`` lists one line per problem."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__("\n".join(f"{self.path}: {p}" for p in problems))


def _describe(raw: Any, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic location into "touchpoint 'farewell', field 'offset'"."""
    parts: list[str] = []
    items = list(loc)
    if len(items) >= 2 and items[0] == "touchpoints" and isinstance(items[1], int):
        index = items[1]
        tp_id = None
        if isinstance(raw, dict):
            tps = raw.get("touchpoints")
            if isinstance(tps, list) and index < len(tps) and isinstance(tps[index], dict):
                tp_id = tps[index].get("id")
        parts.append(f"touchpoint {tp_id!r}" if tp_id else f"touchpoint #{index + 1}")
        items = items[2:]
    # pydantic names union branches ("Repeat", "literal['visits']"); they mean nothing to a reader.
    fields = [str(i) for i in items if not (isinstance(i, str) and (i[:1].isupper() or "[" in i))]
    if fields:
        parts.append("field " + repr(".".join(fields)))
    return ", ".join(parts) if parts else "programme"


def parse_programme(raw: Any, path: Path | str = "<programme>") -> Programme:
    """Validate already-parsed YAML. Raises :class:`ProgrammeError`."""
    if not isinstance(raw, dict):
        raise ProgrammeError(path, ["expected a mapping with id, name and touchpoints at the top"])
    try:
        return Programme.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            where = _describe(raw, tuple(error["loc"]))
            message = str(error["msg"]).removeprefix("Value error, ")
            cause = error.get("ctx", {}).get("error")
            if isinstance(cause, _TouchpointError):
                where = _describe(raw, ("touchpoints", cause.index, cause.field))
            if error["type"] == "extra_forbidden":
                message = "unknown field (check the spelling)"
            problems.append(f"{where}: {message}")
        raise ProgrammeError(path, sorted(set(problems), key=problems.index)) from None


def load_programme(path: Path | str) -> Programme:
    """Read and validate one programme file. Raises :class:`ProgrammeError`."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ProgrammeError(path, [f"cannot read the file ({exc.strerror})"]) from exc
    except UnicodeDecodeError as exc:
        raise ProgrammeError(path, [not_utf8(exc)]) from None
    try:
        raw = yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise ProgrammeError(path, [yaml_problem(text, exc)]) from None
    programme = parse_programme(raw, path)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return programme.model_copy(update={"source_hash": digest})


def load_all(directory: Path | None = None) -> dict[str, Programme]:
    """Every ``*.yaml`` in the programmes directory, by programme id."""
    directory = directory or PROGRAMMES_DIR
    programmes: dict[str, Programme] = {}
    for path in sorted(directory.glob("*.yaml")):
        programme = load_programme(path)
        if programme.id in programmes:
            raise ProgrammeError(
                path, [f"programme id {programme.id!r} is used by another file too"]
            )
        programmes[programme.id] = programme
    return programmes
