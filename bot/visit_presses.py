"""A volunteer family's presses about visits: did it happen, who cancelled, the new day of a moved
visit, and the mood of a check-in."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session
from telegram import Update

from bot import buttons as kb
from bot import callbacks as cb
from bot import moments
from bot.common import Outcome, actor_of, clear_pending, expired, family_today, inline, set_pending
from bot.context import BotContext
from bot.formatting import long_day
from followup import visits
from scheduler import i18n
from store.models import CancelledBy, Match, VisitStatus

# An ad-hoc check-in's buttons work for a week, and only until the next check-in.
CHECKIN_BUTTON_LIFETIME = timedelta(days=7)
WHO_CANCELLED = {
    "cf": CancelledBy.CHILD_FAMILY,
    "vf": CancelledBy.VOLUNTEER_FAMILY,
    "il": CancelledBy.ILLNESS,
    "ot": CancelledBy.OTHER,
}


def on_visit(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day = cb.parse_day(data.fields[0])
    if day is None:
        return expired(locale)
    choice = data.fields[1]
    now = ctx.now()
    common = {"today": family_today(ctx, match), "now": now, "actor": actor_of(match)}
    if data.action == "vn":
        times = int(choice)
        visits.answer_visit(session, match, day, VisitStatus.VISITED, times=times, **common)  # type: ignore[arg-type]
        texts = i18n.texts(locale)
        if times == 0:
            none = texts.gettext(
                "Thanks for letting us know. We have noted that you did not see %(child)s this "
                "week.",
                child=match.child.first_name,
            )
            return Outcome(locale, edit=none)
        if times == 4:  # the button says 4+
            noted = texts.gettext("✅ Thank you! We have noted that you met 4 times or more.")
        else:
            noted = texts.ngettext(
                "✅ Thank you! We have noted that you met once.",
                "✅ Thank you! We have noted that you met %(num)d times.",
                times,
            )
        return Outcome(
            locale,
            edit=f"{noted}\n\n{how_did_it_go(locale)}",
            markup=inline(kb.mood_buttons(match.id, "d" + cb.day_code(day), locale)),
        )
    status = {"y": VisitStatus.VISITED, "c": VisitStatus.CANCELLED, "m": VisitStatus.MOVED}[choice]
    visits.answer_visit(session, match, day, status, **common)  # type: ignore[arg-type]
    when = long_day(day, locale)
    texts = i18n.texts(locale)
    if status == VisitStatus.VISITED:
        noted = texts.gettext("✅ Thank you! The visit on %(date)s is noted.", date=when)
        return Outcome(
            locale,
            edit=f"{noted}\n\n{how_did_it_go(locale)}",
            markup=inline(kb.mood_buttons(match.id, "d" + cb.day_code(day), locale)),
        )
    if status == VisitStatus.CANCELLED:
        return Outcome(
            locale,
            edit=texts.gettext(
                "Oh dear, thanks for letting us know. Who cancelled the visit on %(date)s?",
                date=when,
            ),
            markup=inline(kb.who_cancelled_buttons(match.id, day, locale)),
        )
    set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
    ask = texts.gettext(
        "Which day has the visit moved to? Pick a day, or write the date (e.g. 12/3)."
    )
    return Outcome(locale, edit=ask, markup=inline(kb.move_buttons(match.id, day, locale)))


def how_did_it_go(locale: str) -> str:
    return i18n.texts(locale).gettext("How did it go? 1 = badly, 5 = very well.")


def moved_to(locale: str, day: date) -> str:
    return i18n.texts(locale).gettext(
        "📅 Thank you! The visit has moved to %(date)s.", date=long_day(day, locale)
    )


def on_cancelled_by(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day = cb.parse_day(data.fields[0])
    if day is None:
        return expired(locale)
    visits.set_cancelled_by(session, match, day, WHO_CANCELLED[data.fields[1]], actor_of(match))
    set_pending(ctx.data, "cancel_note", ctx.now(), match=match.id, day=cb.day_code(day))
    why = i18n.texts(locale).gettext(
        "Thank you. Would you like to write briefly why? It's optional."
    )
    return Outcome(locale, edit=why, markup=inline(kb.no_thanks(match.id, locale)))


def on_moved_to(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day, new_day = cb.parse_day(data.fields[0]), cb.parse_day(data.fields[1])
    if day is None or new_day is None:
        return expired(locale)
    visits.set_moved_to(session, match, day, new_day, actor_of(match))
    clear_pending(ctx.data)
    return Outcome(locale, edit=moved_to(locale, new_day))


def on_mood(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    ref, mood = data.fields[0], int(data.fields[1])
    now = ctx.now()
    visit = None
    if ref.startswith("d"):
        day = cb.parse_day(ref[1:])
        visit = visits.visit_on(session, match.id, day) if day else None
        if visit is None or visit.status != VisitStatus.VISITED:
            return expired(locale)
    else:
        shown = cb.parse_moment(ref[1:])
        if (
            shown is None
            or shown > now + timedelta(minutes=1)
            or now - shown > CHECKIN_BUTTON_LIFETIME
        ):
            return expired(locale)
        if visits.checked_in_since(session, match.id, shown):
            return expired(locale)
    checkin = visits.record_checkin(
        session, match, mood, now=now, actor=actor_of(match), visit=visit
    )
    set_pending(ctx.data, "checkin", now, match=match.id, checkin=checkin.id)
    rows = kb.no_thanks(match.id, locale) + moments.greeting_button(match, ctx, locale)
    saved = i18n.texts(locale).gettext(
        "Thanks for your answer (%(mood)s/5). Would you like to tell us more? Just write it here.",
        mood=mood,
    )
    return Outcome(locale, edit=saved, markup=inline(rows))
