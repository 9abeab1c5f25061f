"""The volunteer family's side of the bot: linking, commands about one match, help, language.

Each function reads the update, does its work through ``followup`` inside one transaction and
returns an :class:`~bot.common.Outcome`; :mod:`bot.app` runs it in a worker thread and sends
the outcome from the event loop. Free text is answered in :mod:`bot.answers`, button presses in
:mod:`bot.presses`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy.orm import Session
from telegram import Update

from bot import buttons as kb
from bot import callbacks as cb
from bot.common import (
    Markup,
    Outcome,
    Reply,
    Who,
    clear_pending,
    family_matches,
    inline,
    set_pending,
    staff_name,
    who_is,
    worry_keyboard,
)
from bot.context import BotContext
from bot.formatting import long_day, next_things, parse_period, plan_text
from bot.texts import t
from followup import visits
from followup.invites import InviteError, redeem_invite
from followup.visits import VisitError
from scheduler.facts import facts_for, local_today
from scheduler.i18n import texts
from scheduler.recipients import family_recipient
from scheduler.school_calendar import SchoolHoliday
from store.models import Match, MatchStatus, Staff, VolunteerFamily

# What a command does once it knows the match: (session, context, chat, match, locale).
Action = Callable[[Session, BotContext, int, Match, str], Outcome]


def actor_of(match: Match) -> str:
    """Who did it, for the audit trail: the match's volunteer family."""
    return f"family:{match.volunteer_family_id}"


def family_today(ctx: BotContext, match: Match) -> date:
    return local_today(ctx.now(), match.volunteer_family.timezone)


def reply(chat_id: int, locale: str, text: str, markup: Markup | None = None) -> Outcome:
    return Outcome(locale=locale, replies=[Reply(chat_id, text, markup)])


def help_text(who: Who, session: Session) -> str:
    parts = []
    if who.family is not None:
        matches = family_matches(session, who.family, live_only=False)
        staff = staff_name(matches[0], who.locale) if matches else t("your_case_lead", who.locale)
        parts.append(t("help_family", who.locale, staff=staff, worry=t("btn_worry", who.locale)))
    if who.staff is not None:
        parts.append(t("help_staff", who.staff.locale.value))
    return "\n\n".join(parts) if parts else t("help_unlinked", who.locale)


# -- linking -----------------------------------------------------------------------------------


def start(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    token = ctx.args[0] if ctx.args else None
    clear_pending(ctx.data)
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if token is None:
            if not who.linked:
                return reply(chat_id, who.locale, t("help_unlinked", who.locale))
            return reply(
                chat_id, who.locale, f"{t('welcome_back', who.locale)}\n\n{help_text(who, session)}"
            )
        try:
            linked = redeem_invite(session, token, chat_id, ctx.now())
        except InviteError as exc:
            return reply(chat_id, who.locale, t(f"invite_{exc.reason}", who.locale))
        if linked.kind == "staff":
            staff = session.get(Staff, linked.subject_id)
            assert staff is not None
            locale = staff.locale.value
            text = t("linked_staff", locale, name=staff.name, help=t("help_staff", locale))
            return reply(chat_id, locale, text)
        family = session.get(VolunteerFamily, linked.subject_id)
        assert family is not None
        return _linked_family(session, ctx, chat_id, family)


def _linked_family(
    session: Session, ctx: BotContext, chat_id: int, family: VolunteerFamily
) -> Outcome:
    locale = family.locale.value
    matches = family_matches(session, family, live_only=False)
    first = matches[0] if matches else None
    welcome = t(
        "linked_family",
        locale,
        contact=family.contact_name,
        family=family.name,
        organisation=(first.programme.organisation or first.programme.name)
        if first
        else t("our_organisation", locale),
        child=first.child.first_name if first else "",
        staff=staff_name(first, locale) if first else t("your_case_lead", locale),
    )
    outcome = reply(chat_id, locale, welcome, worry_keyboard(locale))
    for match in [m for m in matches if m.status != MatchStatus.ENDED] or matches[:1]:
        plan = _plan_text(session, ctx, match, locale)
        if plan:
            outcome.replies.append(Reply(chat_id, plan))
    return outcome


# -- commands that are about one match ---------------------------------------------------------


def _plan_text(session: Session, ctx: BotContext, match: Match, locale: str) -> str | None:
    programme = ctx.services.programmes.get(match.programme.slug)
    if programme is None:
        return None
    facts = facts_for(session, match, programme)
    title = t(
        "plan_title",
        locale,
        child=match.child.first_name,
        family=match.volunteer_family.name,
        programme=programme.name,
    )
    family = family_recipient(match.volunteer_family)
    legend = t("plan_legend", locale)
    return plan_text(programme, facts, ctx.now(), locale, title, legend, family)


def do_plan(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    text = _plan_text(session, ctx, match, locale)
    return reply(chat_id, locale, text or t("no_match", locale))


def do_next(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    programme = ctx.services.programmes.get(match.programme.slug)
    if programme is None:
        return reply(chat_id, locale, t("no_match", locale))
    visit, event = next_things(programme, facts_for(session, match, programme), ctx.now(), locale)
    lines = []
    if visit is not None:
        lines.append(t("next_visit", locale, date=long_day(visit, locale)))
    elif match.status == MatchStatus.PAUSED:
        lines.append(t("next_visit_paused", locale))
    if event is not None:
        lines.append(t("next_event", locale, what=event[0], date=long_day(event[1], locale)))
    return reply(chat_id, locale, "\n".join(lines) or t("next_nothing", locale))


def do_checkin(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str
) -> Outcome:
    ref = "t" + cb.moment_code(ctx.now())
    markup = inline(kb.mood_buttons(match.id, ref, locale))
    return reply(chat_id, locale, t("checkin_ask", locale, child=match.child.first_name), markup)


def do_pause(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return reply(chat_id, locale, t("no_match", locale))
    text = " ".join(ctx.args or [])
    if text:
        return pause_from_text(session, ctx, chat_id, match, locale, text)
    set_pending(ctx.data, "pause", ctx.now(), match=match.id)
    holiday = next_school_holiday(ctx, match)
    if holiday is None:
        return reply(chat_id, locale, t("pause_ask", locale))
    markup = inline(kb.holiday_pause_buttons(match.id, holiday, locale))
    ask = texts(locale).gettext(
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
        if holiday.first > today + visits.PAUSE_HORIZON:
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
    try:
        visits.holiday_answer(
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
        glad = texts(locale).gettext(
            "Wonderful! We will ask about the visits as usual. %(child)s will be glad.",
            child=match.child.first_name,
        )
        return reply(chat_id, locale, glad)
    first_day = max(holiday.first, today)
    return reply(
        chat_id,
        locale,
        t(
            "pause_saved",
            locale,
            first=long_day(first_day, locale),
            last=long_day(holiday.last, locale),
        ),
    )


def do_stop(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return reply(chat_id, locale, t("no_match", locale))
    text = t("stop_confirm", locale, child=match.child.first_name, staff=staff_name(match, locale))
    return reply(chat_id, locale, text, inline(kb.stop_buttons(match.id, locale)))


def do_worry(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    now = ctx.now()
    checkin, _ = visits.raise_worry(session, match, now=now, actor=actor_of(match))
    set_pending(ctx.data, "worry", now, match=match.id, checkin=checkin.id)
    return reply(chat_id, locale, t("worry_ask", locale, staff=staff_name(match, locale)))


ACTIONS: dict[str, Action] = {
    "ci": do_checkin,
    "pl": do_plan,
    "nx": do_next,
    "pa": do_pause,
    "st": do_stop,
    "wo": do_worry,
}
# These still make sense after the match has ended; the others need an ongoing match.
AFTER_END = {"pl", "nx", "wo"}


def with_match(what: str) -> Callable[[BotContext, Update], Outcome]:
    """A command handler that finds the family's match (asking which one if there are several)."""

    def handle(ctx: BotContext, update: Update) -> Outcome:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        clear_pending(ctx.data)
        with ctx.transaction() as session:
            who = who_is(session, chat_id, update.effective_user)
            if who.family is None:
                return reply(chat_id, who.locale, help_text(who, session))
            return for_family(session, ctx, chat_id, who, what)

    return handle


def for_family(session: Session, ctx: BotContext, chat_id: int, who: Who, what: str) -> Outcome:
    assert who.family is not None
    matches = family_matches(session, who.family, live_only=True)
    if not matches and what in AFTER_END:
        matches = family_matches(session, who.family, live_only=False)[:1]
    if not matches:
        return reply(chat_id, who.locale, t("no_match", who.locale))
    if len(matches) > 1:
        markup = inline(kb.pick_buttons(matches, what))
        return reply(chat_id, who.locale, t("choose_match", who.locale), markup)
    return ACTIONS[what](session, ctx, chat_id, matches[0], who.locale)


def pause_from_text(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str, text: str
) -> Outcome:
    today = family_today(ctx, match)
    period = parse_period(text, today)
    if period is None:
        set_pending(ctx.data, "pause", ctx.now(), match=match.id)
        return reply(chat_id, locale, t("pause_bad", locale))
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
        visits.family_pause(session, match, first, last, today=today, actor=actor_of(match))
    except VisitError as exc:
        return _pause_refused(ctx, chat_id, match, locale, exc)
    return reply(
        chat_id,
        locale,
        t("pause_saved", locale, first=long_day(first, locale), last=long_day(last, locale)),
    )


def _pause_refused(
    ctx: BotContext, chat_id: int, match: Match, locale: str, exc: VisitError
) -> Outcome:
    if exc.reason == "overlap":
        return reply(chat_id, locale, t("pause_overlap", locale, staff=staff_name(match, locale)))
    if exc.reason == "state":
        return reply(chat_id, locale, t("no_match", locale))
    set_pending(ctx.data, "pause", ctx.now(), match=match.id)
    return reply(chat_id, locale, t("pause_invalid", locale))


def on_other(ctx: BotContext, update: Update) -> Outcome:
    """A sticker, photo, location...: nothing is stored; the family is told to write text."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return reply(chat_id, who.locale, help_text(who, session))
        return reply(chat_id, who.locale, t("non_text", who.locale))


def on_help(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        return reply(chat_id, who.locale, help_text(who, session))


def on_cancel(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return reply(chat_id, who.locale, t("help_unlinked", who.locale))
    clear_pending(ctx.data)
    return reply(chat_id, who.locale, t("cancelled_input", who.locale))


def on_language(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return reply(chat_id, who.locale, t("help_unlinked", who.locale))
    return reply(chat_id, who.locale, t("language_ask", who.locale), inline(kb.language_buttons()))
