"""A volunteer family pausing its match from the bot: the pause offered before a school holiday, or
the dates the family writes after /pause."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from bot import buttons as kb
from bot.common import (
    Outcome,
    actor_of,
    clear_pending,
    family_today,
    inline,
    no_match,
    reply,
    set_pending,
    staff_name,
)
from bot.context import BotContext
from bot.formatting import long_day, parse_period
from followup import family_pauses
from followup.visits import VisitError
from scheduler import i18n
from scheduler.school_calendar import SchoolHoliday
from store.models import Match, MatchStatus


def do_pause(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return reply(chat_id, locale, no_match(locale))
    text = " ".join(ctx.args or [])
    if text:
        return pause_from_text(session, ctx, chat_id, match, locale, text)
    set_pending(ctx.data, "pause", ctx.now(), match=match.id)
    holiday = next_school_holiday(ctx, match)
    texts = i18n.texts(locale)
    if holiday is None:
        ask = texts.gettext(
            "When are you taking a break? Write the first and last day, e.g. 1/7-9/8."
        )
        return reply(chat_id, locale, ask)
    markup = inline(kb.holiday_pause_buttons(match.id, holiday, locale))
    ask = texts.gettext(
        "When are you taking a break? Write the first and last day, e.g. 1/7-9/8. Or press the "
        "button to take a break in the next school holiday."
    )
    return reply(chat_id, locale, ask, markup)


def match_municipality(match: Match) -> str:
    """Whose school holidays the match follows: its municipality, else its region."""
    return match.municipality or match.region


def next_school_holiday(ctx: BotContext, match: Match) -> SchoolHoliday | None:
    """The school holiday going on or next to come that no pause covers yet."""
    today = family_today(ctx, match)
    for holiday in ctx.services.school_calendar.holidays(match_municipality(match)):
        if holiday.last < today:
            continue
        if holiday.first > today + family_pauses.PAUSE_HORIZON:
            return None
        first = max(holiday.first, today)
        if not any(
            pause.start_date <= holiday.last and (pause.end_date is None or pause.end_date > first)
            for pause in match.pauses
        ):
            return holiday
    return None


def pause_for_holiday(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    first: date,
    goes_on: bool = False,
) -> Outcome | None:
    """The answer for the school holiday that starts on ``first``: a pause for it, or (with
    ``goes_on``) visits as usual; None when there is no such holiday for this match (a stale
    or forged button)."""
    holiday = ctx.services.school_calendar.starting(match_municipality(match), first)
    today = family_today(ctx, match)
    if holiday is None or holiday.last < today:
        return None
    clear_pending(ctx.data)
    texts = i18n.texts(locale)
    try:
        family_pauses.holiday_answer(
            session,
            match,
            holiday.kind,
            holiday.first,
            holiday.last,
            goes_on=goes_on,
            today=today,
            actor=actor_of(match),
        )
    except VisitError as exc:
        return _pause_refused(ctx, chat_id, match, locale, exc)
    if goes_on:
        glad = texts.gettext(
            "Wonderful! We will ask about the visits as usual. %(child)s will be glad.",
            child=match.child.first_name,
        )
        return reply(chat_id, locale, glad)
    return reply(chat_id, locale, pause_saved(locale, max(holiday.first, today), holiday.last))


def pause_from_text(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str, text: str
) -> Outcome:
    today = family_today(ctx, match)
    period = parse_period(text, today)
    texts = i18n.texts(locale)
    if period is None:
        set_pending(ctx.data, "pause", ctx.now(), match=match.id)
        unread = texts.gettext(
            "We could not read that. Write the first and last day, e.g. 1/7-9/8."
        )
        return reply(chat_id, locale, unread)
    return _save_pause(session, ctx, chat_id, match, locale, period)


def _save_pause(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    period: tuple[date, date],
) -> Outcome:
    first, last = period
    today = family_today(ctx, match)
    try:
        family_pauses.family_pause(session, match, first, last, today=today, actor=actor_of(match))
    except VisitError as exc:
        return _pause_refused(ctx, chat_id, match, locale, exc)
    return reply(chat_id, locale, pause_saved(locale, first, last))


def pause_saved(locale: str, first: date, last: date) -> str:
    """The answer to a pause the family asked for (in writing or by the holiday button)."""
    return i18n.texts(locale).gettext(
        "The pause is noted: from %(first)s up to and including %(last)s. We won't ask about "
        "visits in that period.",
        first=long_day(first, locale),
        last=long_day(last, locale),
    )


def _pause_refused(
    ctx: BotContext, chat_id: int, match: Match, locale: str, exc: VisitError
) -> Outcome:
    texts = i18n.texts(locale)
    if exc.reason == "overlap":
        overlap = texts.gettext(
            "There is already a pause in that period. Contact %(staff)s to change it.",
            staff=staff_name(ctx.services.programmes, match, locale),
        )
        return reply(chat_id, locale, overlap)
    if exc.reason == "state":
        return reply(chat_id, locale, no_match(locale))
    set_pending(ctx.data, "pause", ctx.now(), match=match.id)
    invalid = texts.gettext(
        "A pause must start today or later, within two years, and last at most a year. "
        "Please try again."
    )
    return reply(chat_id, locale, invalid)
