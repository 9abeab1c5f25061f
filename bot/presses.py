"""A volunteer family's button presses: visit prompts, check-ins, worries, RSVPs, stopping.

Every button names the match it is about, and every press looks the match up again and checks
that this chat's family owns it (:func:`~bot.common.owned_match`): forged, foreign or stale
data gets "this button has expired" and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy.orm import Session
from telegram import Update

from bot import buttons as kb
from bot import callbacks as cb
from bot import moments
from bot.common import (
    Outcome,
    Who,
    actor_of,
    clear_pending,
    get_pending,
    inline,
    owned_match,
    reply,
    set_pending,
    staff_name,
    user_locale,
    who_is,
    worry_keyboard,
)
from bot.context import BotContext
from bot.family import ACTIONS, AFTER_END, do_worry, family_today, pause_for_holiday
from bot.formatting import long_day
from followup import child_voice, visits
from followup.sparring import SparringError, record_rsvp
from followup.survey_defs import tr
from followup.visits import VisitError
from scheduler import i18n
from scheduler.i18n import N_
from store.models import RSVP, CancelledBy, Locale, Match, MatchStatus, VisitStatus

# An ad-hoc check-in's buttons work for a week, and only until the next check-in.
CHECKIN_BUTTON_LIFETIME = timedelta(days=7)
WHO_CANCELLED = {
    "cf": CancelledBy.CHILD_FAMILY,
    "vf": CancelledBy.VOLUNTEER_FAMILY,
    "il": CancelledBy.ILLNESS,
    "ot": CancelledBy.OTHER,
}
RSVP_ANSWERS = {"y": RSVP.YES, "m": RSVP.MAYBE, "n": RSVP.NO}
RSVP_SAVED = {
    RSVP.YES: N_(
        "Thanks for your answer: you are coming. You can change it here until the meeting."
    ),
    RSVP.MAYBE: N_("Thanks for your answer: maybe. You can change it here until the meeting."),
    RSVP.NO: N_(
        "Thanks for your answer: you are not coming. You can change it here until the meeting."
    ),
}


def on_button(ctx: BotContext, update: Update, data: cb.Callback) -> Outcome:
    """A family's button press; the data has parsed, nothing else is trusted yet."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    locale = user_locale(update.effective_user)
    try:
        with ctx.transaction() as session:
            match = owned_match(session, chat_id, data.match_id)
            handler = _BUTTONS.get(data.action)
            if match is None or handler is None:
                who = who_is(session, chat_id, update.effective_user)
                if data.action == "lg" and who.linked:
                    return _language(session, chat_id, who, data.fields[0])
                return _expired(who.locale)
            locale = match.volunteer_family.locale.value
            return handler(session, ctx, chat_id, match, locale, data, update)
    except (VisitError, SparringError):
        # Raised before anything was written, or rolled back with the transaction.
        return _expired(locale)


ButtonHandler = Callable[[Session, BotContext, int, Match, str, cb.Callback, Update], Outcome]


def _expired(locale: str) -> Outcome:
    return Outcome(locale=locale, expired=True)


def _visit(
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
        return _expired(locale)
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


def _cancelled_by(
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
        return _expired(locale)
    visits.set_cancelled_by(session, match, day, WHO_CANCELLED[data.fields[1]], actor_of(match))
    set_pending(ctx.data, "cancel_note", ctx.now(), match=match.id, day=cb.day_code(day))
    why = i18n.texts(locale).gettext(
        "Thank you. Would you like to write briefly why? It's optional."
    )
    return Outcome(locale, edit=why, markup=inline(kb.no_thanks(match.id, locale)))


def _moved_to(
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
        return _expired(locale)
    visits.set_moved_to(session, match, day, new_day, actor_of(match))
    clear_pending(ctx.data)
    return Outcome(locale, edit=moved_to(locale, new_day))


def _mood(
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
            return _expired(locale)
    else:
        shown = cb.parse_moment(ref[1:])
        if (
            shown is None
            or shown > now + timedelta(minutes=1)
            or now - shown > CHECKIN_BUTTON_LIFETIME
        ):
            return _expired(locale)
        if visits.checked_in_since(session, match.id, shown):
            return _expired(locale)
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


def _worry(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    return do_worry(session, ctx, chat_id, match, locale)


def _no_thanks(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    pending = get_pending(ctx.data, ctx.now())
    if pending is not None and pending.get("match") == match.id:
        clear_pending(ctx.data)
        if pending.get("kind") == "child_voice":
            # The smileys are answered; the open question is skipped.
            found = child_voice.family_invitation(session, match, str(pending.get("wave", "")))
            if found is not None:
                child_voice.finish(session, found[0], ctx.now())
    return Outcome(locale, toast=i18n.texts(locale).gettext("Fine, thank you!"), keep_message=False)


def _rsvp(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    session_id, answer = int(data.fields[0]), RSVP_ANSWERS[data.fields[1]]
    record_rsvp(session, match, session_id, answer, now=ctx.now(), actor=actor_of(match))
    saved = i18n.texts(locale).gettext(RSVP_SAVED[answer])
    message = update.effective_message
    original = (message.text or "") if message is not None else ""
    original = original.split("\n\n✔ ", 1)[0].strip()
    text = f"{original}\n\n✔ {saved}" if original else f"✔ {saved}"
    return Outcome(
        locale,
        toast=saved[:200],
        edit=text,
        markup=inline(kb.rsvp_buttons(match.id, session_id, locale)),
    )


def _stop(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return _expired(locale)
    if data.fields[0] == "n":
        kept = i18n.texts(locale).gettext("Lovely, then you carry on as before.")
        return Outcome(locale, edit=kept)
    now = ctx.now()
    visits.family_wants_to_stop(
        session, match, today=family_today(ctx, match), now=now, actor=actor_of(match)
    )
    set_pending(ctx.data, "stop_reason", now, match=match.id)
    return Outcome(
        locale,
        edit=i18n.texts(locale).gettext(
            "Thank you for telling us. We have noted that you want to stop, and %(staff)s will "
            "contact you soon.\n\nWould you like to write briefly why? It's optional.",
            staff=staff_name(ctx.services.programmes, match, locale),
        ),
        markup=inline(kb.no_thanks(match.id, locale)),
    )


def _holiday_pause(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    first = cb.parse_day(data.fields[0])
    goes_on = data.action == "hq" and data.fields[1] == "y"
    outcome = (
        None
        if first is None
        else pause_for_holiday(session, ctx, chat_id, match, locale, first, goes_on=goes_on)
    )
    if outcome is None:
        return _expired(locale)
    outcome.keep_message = False
    return outcome


def _pick(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    what = data.fields[0]
    if match.status == MatchStatus.ENDED and what not in AFTER_END:
        return _expired(locale)
    outcome = ACTIONS[what](session, ctx, chat_id, match, locale)
    outcome.keep_message = False
    return outcome


def _child_voice(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    """A smiley for the child's answer to one question (or the start): the next question."""
    wave, number, value = data.fields[0], int(data.fields[1]), int(data.fields[2])
    now = ctx.now()
    found = child_voice.open_family_invitation(session, match, wave, now)
    if found is None:
        return _expired(locale)
    invitation, survey = found
    scales = child_voice.scale_questions(survey, wave)
    if number > len(scales) or (number == 0) != (value == 0):
        return _expired(locale)
    child = match.child.first_name
    texts = i18n.texts(locale)
    if number:
        child_voice.answer(session, invitation, survey, scales[number - 1], str(value), now)
    if number < len(scales):
        question = scales[number]
        text = texts.gettext(
            "Ask %(child)s (%(number)d of %(total)d):\n\n%(question)s\n\n"
            "Tap the face %(child)s chooses.",
            child=child,
            number=number + 1,
            total=len(scales),
            question=tr(question.text, locale),
        )
        return Outcome(
            locale, edit=text, markup=inline(kb.child_voice_faces(match.id, wave, number + 1))
        )
    open_question = child_voice.text_question(survey, wave)
    if open_question is None:
        child_voice.finish(session, invitation, now)
        staff = staff_name(ctx.services.programmes, match, locale)
        return Outcome(locale, edit=child_voice_saved(locale, child, staff))
    set_pending(ctx.data, "child_voice", now, match=match.id, wave=wave)
    text = texts.gettext(
        "Thank you! Finally, an open question for %(child)s:\n\n%(question)s\n\n"
        "Write the answer here, in %(child)s's own words if you can.",
        child=child,
        question=tr(open_question.text, locale),
    )
    return Outcome(locale, edit=text, markup=inline(kb.no_thanks(match.id, locale)))


def child_voice_saved(locale: str, child: str, staff: str) -> str:
    """The thanks once the child's answers are saved (after the last smiley or the own words)."""
    return i18n.texts(locale).gettext(
        "Thank you! We have saved %(child)s's answers. %(staff)s can see them.",
        child=child,
        staff=staff,
    )


def _language(session: Session, chat_id: int, who: Who, code: str) -> Outcome:
    locale = Locale(code)
    if who.family is not None:
        who.family.locale = locale
    if who.staff is not None:
        who.staff.locale = locale
    markup = worry_keyboard(locale.value) if who.family is not None else None
    done = i18n.texts(locale.value).gettext("The language is now English.")
    outcome = reply(chat_id, locale.value, done, markup)
    outcome.keep_message = False
    return outcome


_BUTTONS: dict[str, ButtonHandler] = {
    "v": _visit,
    "vn": _visit,
    "cb": _cancelled_by,
    "mv": _moved_to,
    "ck": _mood,
    "wo": _worry,
    "x": _no_thanks,
    "rs": _rsvp,
    "st": _stop,
    "ph": _holiday_pause,
    "hq": _holiday_pause,
    "pk": _pick,
    "mo": moments.on_press,
    "cv": _child_voice,
}
