"""The year plan (årshjul): a match's timeline as rows a person can read.

Pure: it takes the occurrences from :mod:`scheduler.timeline` and a locale. Weekly visit prompts
are folded into one line, so the plan shows what is special about the year.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_time

from scheduler import i18n
from scheduler.i18n import N_
from scheduler.programme import AudienceName, Kind, Programme, Touchpoint
from scheduler.recipients import Recipient, recipients_for
from scheduler.render import render_title
from scheduler.timeline import MatchFacts, Occurrence, effective_end, ended_early, occurrences

BABEL_LOCALES = {"da": "da_DK", "en": "en_GB"}


class Localised(Mapping[str, str]):
    """One message id, read in a language by indexing: ``CHANNELS["sms"]["da"]`` is "sms".

    The words come from the catalogs (:mod:`scheduler.i18n`); any language with a catalog works.
    """

    def __init__(self, message: str) -> None:
        self.message = message

    def __getitem__(self, locale: str) -> str:
        try:
            texts = i18n.texts(locale)
        except LookupError:
            raise KeyError(locale) from None
        return texts.gettext(self.message)

    def get(self, locale: str, default: Any = None) -> Any:
        try:
            return self[locale]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        return iter(lang.code for lang in i18n.languages())

    def __len__(self) -> int:
        return len(i18n.languages())


# What a plan calls a message without a title of its own (staff tasks have their title in the
# programme file, in the programme's languages).
LABELS: dict[str, Localised] = {
    "welcome": Localised(N_("Welcome to the volunteer family")),
    "visit_prompt": Localised(N_("Visit")),
    "sparring_invite": Localised(N_("Invitation to group sparring")),
    "holiday_question": Localised(N_("School holiday in a week: do the visits go on?")),
    "farewell_family": Localised(N_("Farewell message to the volunteer family")),
    "farewell_parent": Localised(N_("Farewell message to the parent or contact person")),
    "voice_checkin": Localised(N_("Automated call to the parent: is all well?")),
    "call_announcement": Localised(N_("The parent is told when staff will call")),
    "survey:baseline": Localised(N_("Survey at the start")),
    "survey:end": Localised(N_("Survey at the end")),
    "survey:followup": Localised(N_("Follow-up survey")),
    "child_voice_invitation": Localised(N_("The child's voice: a few questions for the child")),
}
AUDIENCE = {
    "volunteer_family": Localised(N_("volunteer family")),
    "contact_person": Localised(N_("parent or contact person")),
    "staff": Localised(N_("staff")),
}
CHANNELS: dict[str | None, Localised] = {
    "telegram": Localised(N_("Telegram")),
    "sms": Localised(N_("SMS")),
    "email": Localised(N_("email")),
    "voice": Localised(N_("call")),
    None: Localised(N_("no channel")),
}
WORDS = {
    "start": Localised(N_("The match starts")),
    "end": Localised(N_("Anniversary: the match ends")),
    "ended": Localised(N_("The match ended")),
    "weekly_prompt": Localised(N_("Weekly visit message: how many times did you meet?")),
    # Kept for callers that still glue these together; new code uses whole sentences.
    "at": Localised(N_("at")),
    "session": Localised(N_("sparring")),
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
        return found[locale]
    return tp.id.replace("-", " ").capitalize()


def title_variables(sibling: bool, child: str) -> dict[str, Any]:
    """The variables a touchpoint title may use."""
    return {"sibling": sibling, "child": child}


def fmt_date(day: date | datetime, locale: str, style: str = "long") -> str:
    return format_date(day, style, locale=BABEL_LOCALES.get(locale, locale))


def fmt_weekday(weekday: int, locale: str) -> str:
    # 2024-01-01 was a Monday
    return format_date(date(2024, 1, 1 + weekday), "EEEE", locale=BABEL_LOCALES.get(locale, locale))


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
    texts = i18n.texts(locale)
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
            what = texts.gettext(
                "%(what)s (sparring %(date)s at %(time)s)",
                what=what,
                date=fmt_date(starts, locale, "long"),
                time=format_time(starts, "HH:mm"),
            )
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
        weekday = fmt_weekday(facts.visit_weekday, locale)
        if cadence == "two_three_monthly":
            what = WORDS["weekly_prompt"][locale]
        elif cadence == "biweekly":
            what = texts.gettext(
                "%(what)s every other %(weekday)s", what=label(tp, locale, titles), weekday=weekday
            )
        else:
            what = texts.gettext(
                "%(what)s every %(weekday)s", what=label(tp, locale, titles), weekday=weekday
            )
        span = f"{fmt_date(first.day, locale, 'medium')} – {fmt_date(last.day, locale, 'medium')}"
        what = texts.ngettext(
            "%(what)s, %(num)d time (%(span)s)",
            "%(what)s, %(num)d times (%(span)s)",
            len(items),
            what=what,
            span=span,
        )
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
