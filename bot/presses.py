"""A volunteer family's button presses: visit prompts, check-ins, worries, RSVPs, stopping.

Every button names the match it is about, and every press looks the match up again and checks
that this chat's family owns it (:func:`~bot.common.owned_match`): forged, foreign or stale
data gets "this button has expired" and changes nothing. The presses about visits and
check-ins are in :mod:`bot.visit_presses`.
"""

from __future__ import annotations

from collections.abc import Callable

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
    expired,
    family_today,
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
from bot.family import ACTIONS, AFTER_END, do_worry
from bot.holiday_pause import pause_for_holiday
from bot.visit_presses import on_cancelled_by, on_mood, on_moved_to, on_visit
from followup import child_voice, visits
from followup.sparring import SparringError, record_rsvp
from followup.survey_defs import tr
from followup.visits import VisitError
from scheduler import i18n
from scheduler.i18n import N_
from store.models import RSVP, Locale, Match, MatchStatus

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
                return expired(who.locale)
            locale = match.volunteer_family.locale.value
            return handler(session, ctx, chat_id, match, locale, data, update)
    except (VisitError, SparringError):
        # Raised before anything was written, or rolled back with the transaction.
        return expired(locale)


ButtonHandler = Callable[[Session, BotContext, int, Match, str, cb.Callback, Update], Outcome]


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
        return expired(locale)
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
        return expired(locale)
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
        return expired(locale)
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
        return expired(locale)
    invitation, survey = found
    scales = child_voice.scale_questions(survey, wave)
    if number > len(scales) or (number == 0) != (value == 0):
        return expired(locale)
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
    "v": on_visit,
    "vn": on_visit,
    "cb": on_cancelled_by,
    "mv": on_moved_to,
    "ck": on_mood,
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
