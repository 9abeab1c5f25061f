"""The year plan (årshjul): a match's timeline as rows a person can read.

Pure: it takes the occurrences from :mod:`scheduler.timeline` and a locale. Weekly visit prompts
are folded into one line, so the plan shows what is special about the year.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_time

from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.recipients import Recipient, recipients_for
from scheduler.render import render_title
from scheduler.timeline import MatchFacts, Occurrence, effective_end, ended_early, occurrences

BABEL_LOCALES = {"da": "da_DK", "en": "en_GB"}

LABELS: dict[str, dict[str, str]] = {
    "welcome": {"da": "Velkomst til venskabsfamilien", "en": "Welcome to the volunteer family"},
    "visit_prompt": {"da": "Besøg", "en": "Visit"},
    "sparring_invite": {"da": "Invitation til sparring", "en": "Invitation to group sparring"},
    "farewell_family": {
        "da": "Farvelhilsen til venskabsfamilien",
        "en": "Farewell message to the volunteer family",
    },
    "farewell_parent": {
        "da": "Farvelhilsen til forælder/kontaktperson",
        "en": "Farewell message to the parent/contact person",
    },
    "survey:baseline": {"da": "Spørgeskema ved start", "en": "Survey at the start"},
    "survey:end": {"da": "Spørgeskema ved afslutning", "en": "Survey at the end"},
    "survey:followup": {"da": "Opfølgende spørgeskema", "en": "Follow-up survey"},
    "child_voice_invitation": {
        "da": "Barnets stemme: et par spørgsmål til barnet",
        "en": "The child's voice: a few questions for the child",
    },
}
AUDIENCE = {
    "volunteer_family": {"da": "venskabsfamilie", "en": "volunteer family"},
    "contact_person": {"da": "forælder/kontaktperson", "en": "parent/contact person"},
    "staff": {"da": "medarbejder", "en": "staff"},
}
CHANNELS = {
    "telegram": {"da": "Telegram", "en": "Telegram"},
    "sms": {"da": "sms", "en": "SMS"},
    "email": {"da": "e-mail", "en": "email"},
    "voice": {"da": "opkald", "en": "call"},
    None: {"da": "ingen kanal", "en": "no channel"},
}
WORDS = {
    "start": {"da": "Forløbet starter", "en": "The match starts"},
    "end": {"da": "Årsdag: forløbet slutter", "en": "Anniversary: the match ends"},
    "ended": {"da": "Forløbet sluttede", "en": "The match ended"},
    "every": {"da": "hver", "en": "every"},
    "every_other": {"da": "hver anden", "en": "every other"},
    "times": {"da": "gange", "en": "times"},
    "at": {"da": "kl.", "en": "at"},
    "weekly_prompt": {
        "da": "Ugentlig besøgsbesked: hvor mange gange har I set hinanden?",
        "en": "Weekly visit message: how many times did you meet?",
    },
    "session": {"da": "sparring", "en": "sparring"},
}


@dataclass(frozen=True)
class PlanRow:
    day: date
    time: str
    what: str
    who: str
    touchpoint_id: str | None
    key: str | None
    past: bool


def label(tp: Touchpoint, locale: str, titles: Mapping[str, Any] | None = None) -> str:
    """What a touchpoint is called in a plan; ``titles`` are the match's title variables
    (``sibling``, ``child``: see :func:`title_variables`)."""
    if tp.title:
        text = tp.title.get(locale) or tp.title.get("da") or tp.id
        return render_title(text, titles or {"sibling": False, "child": ""})
    if tp.kind == Kind.SURVEY:
        found = LABELS.get(tp.template_name) or LABELS.get(f"survey:{tp.wave}")
    else:
        found = LABELS.get(tp.template_name)
    if found:
        return found.get(locale, found["da"])
    return tp.id.replace("-", " ").capitalize()


def title_variables(sibling: bool, child: str) -> dict[str, Any]:
    """The variables a touchpoint title may use."""
    return {"sibling": sibling, "child": child}


def fmt_date(day: date | datetime, locale: str, style: str = "long") -> str:
    return format_date(day, style, locale=BABEL_LOCALES.get(locale, "da_DK"))


def fmt_weekday(weekday: int, locale: str) -> str:
    # 2024-01-01 was a Monday
    return format_date(
        date(2024, 1, 1 + weekday), "EEEE", locale=BABEL_LOCALES.get(locale, "da_DK")
    )


def year_plan(
    programme: Programme,
    facts: MatchFacts,
    now: datetime,
    locale: str = "da",
    fold_visits: bool = True,
    titles: Mapping[str, Any] | None = None,
    recipients: Mapping[str, Sequence[Recipient]] | None = None,
) -> list[PlanRow]:
    """``recipients`` (audience -> the match's people, as now): each message's row then names
    the channel each person will get, as the dispatcher would choose it today."""
    occs = occurrences(programme, facts, now)
    rows: list[PlanRow] = [
        PlanRow(
            facts.start_date,
            "",
            WORDS["start"][locale],
            "",
            None,
            None,
            facts.start_date <= now.date(),
        )
    ]
    visits: dict[str, list[Occurrence]] = {}
    for occ in occs:
        tp = occ.touchpoint
        if fold_visits and tp.kind == Kind.VISIT_PROMPT:
            visits.setdefault(tp.id, []).append(occ)
            continue
        what = label(tp, locale, titles)
        if occ.session is not None:
            starts = occ.session.starts_at
            at = f"{WORDS['at'][locale]} {format_time(starts, 'HH:mm')}"
            when = f"{fmt_date(starts, locale, 'long')} {at}"
            what = f"{what} ({WORDS['session'][locale]} {when})"
        who = AUDIENCE[tp.audience.value][locale]
        if tp.counterpart is not None:
            who = f"{who} → {AUDIENCE[tp.counterpart.value][locale]}"
        elif recipients is not None and tp.channels:
            who = f"{who} ({_channels(tp, recipients.get(tp.audience.value, ()), locale)})"
        rows.append(
            PlanRow(
                occ.day, format_time(occ.due, "HH:mm"), what, who, tp.id, occ.key, occ.is_past(now)
            )
        )
    for tp_id, items in visits.items():
        tp = programme.touchpoint(tp_id)
        first, last = items[0], items[-1]
        cadence = (facts.cadence or programme.cadence).value
        if cadence == "two_three_monthly":
            what = WORDS["weekly_prompt"][locale]
        else:
            every = WORDS["every_other" if cadence == "biweekly" else "every"][locale]
            what = f"{label(tp, locale, titles)} {every} {fmt_weekday(facts.visit_weekday, locale)}"
        span = f"{fmt_date(first.day, locale, 'medium')} – {fmt_date(last.day, locale, 'medium')}"
        what = f"{what}, {len(items)} {WORDS['times'][locale]} ({span})"
        rows.append(
            PlanRow(
                first.day,
                format_time(first.due, "HH:mm"),
                what,
                AUDIENCE[tp.audience.value][locale]
                + (
                    f" ({_channels(tp, recipients.get(tp.audience.value, ()), locale)})"
                    if recipients is not None
                    else ""
                ),
                tp.id,
                None,
                first.is_past(now),
            )
        )
    end = effective_end(programme, facts)
    if end is not None:
        word = WORDS["ended" if facts.end_date is not None else "end"][locale]
        if ended_early(programme, facts):
            word = WORDS["ended"][locale]
        rows.append(PlanRow(end, "", word, "", None, None, end <= now.date()))
    rows.sort(key=lambda r: (r.day, r.time or "99", r.what))
    return rows


def channel_for(tp: Touchpoint, recipient: Recipient) -> str | None:
    """The channel ``recipient`` gets ``tp`` by, with the addresses they have now."""
    return recipient.choose([str(c) for c in tp.channels], in_order=tp.channel_order == "as_listed")


def _channels(tp: Touchpoint, people: Sequence[Recipient], locale: str) -> str:
    if len(people) == 1:
        return CHANNELS[channel_for(tp, people[0])][locale]
    return "; ".join(f"{p.name}: {CHANNELS[channel_for(tp, p)][locale]}" for p in people)


def plan_recipients(match: Any) -> dict[str, list[Recipient]]:
    """The match's family and contact persons as the dispatcher sees them now."""
    return {
        audience.value: recipients_for(match, audience)
        for audience in (AudienceName.VOLUNTEER_FAMILY, AudienceName.CONTACT_PERSON)
    }
