"""Free text from a volunteer family: the answer to the bot's open question, or a message to
staff. Runs in a worker thread, like every handler (see :mod:`bot.app`)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from telegram import Update

from bot import callbacks as cb
from bot import moments as bot_moments
from bot import staff_cases
from bot.buttons import worry_labels
from bot.common import (
    Outcome,
    actor_of,
    clear_pending,
    family_matches,
    get_pending,
    help_text,
    no_match,
    owned_match,
    reply,
    set_pending,
    staff_name,
    who_is,
)
from bot.context import BotContext
from bot.family import for_family, text_only
from bot.formatting import parse_day
from bot.holiday_pause import pause_from_text
from bot.presses import child_voice_saved
from bot.visit_presses import moved_to
from followup import child_voice, visits
from followup.visits import VisitError
from scheduler import i18n
from store.models import Match


def on_text(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    text = update.effective_message.text or ""  # type: ignore[union-attr]
    now = ctx.now()
    worry = text.strip() in worry_labels()
    with ctx.transaction() as session:
        pending = get_pending(ctx.data, now)
        if staff_cases.wants_note(pending, now) and not worry:
            clear_pending(ctx.data)
            assert pending is not None
            return staff_cases.note_from_text(session, ctx, update, pending, text)
        if pending is not None and not worry:
            # The answer to the bot's last question: the match (and with it the family) in one
            # query, which also checks that this chat still owns it.
            clear_pending(ctx.data)
            match = owned_match(session, chat_id, _int(pending.get("match")))
            if match is not None:
                locale = match.volunteer_family.locale.value
                if pending.get("kind") == "child_voice":
                    return _child_voice_words(session, ctx, chat_id, match, locale, pending, text)
                return _answer_pending(session, ctx, chat_id, match, locale, pending, text)
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return reply(chat_id, who.locale, help_text(ctx, who, session))
        if worry:
            clear_pending(ctx.data)
            return for_family(session, ctx, chat_id, who, "wo")
        if not visits.clean_text(text):
            return reply(chat_id, who.locale, text_only(who.locale))
        matches = family_matches(session, who.family, live_only=False)
        if not matches:
            return reply(chat_id, who.locale, no_match(who.locale))
        match = matches[0]
        visits.message_from_family(session, match, text, now=now, actor=actor_of(match))
        staff = staff_name(ctx.services.programmes, match, who.locale)
        return reply(chat_id, who.locale, passed_on(who.locale, staff))


def passed_on(locale: str, staff: str) -> str:
    return i18n.texts(locale).gettext(
        "Thank you, your message has been passed on to %(staff)s.", staff=staff
    )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _worry_noted(texts: i18n.Texts, match: Match, staff: str) -> str:
    """The answer to a family's worry: who has it, their phone, and 112 for immediate danger."""
    phone = match.staff.phone if match.staff is not None else None
    lines = [
        texts.gettext(
            "Thank you. We have passed on your message to %(staff)s, who will contact "
            "you as soon as possible.",
            staff=staff,
        )
    ]
    if phone:
        lines.append(
            texts.gettext("You can also call %(phone)s yourselves.", phone=i18n.phone(phone))
        )
    danger = texts.gettext("If a child is in immediate danger, call 112.")
    return " ".join(lines) + "\n\n" + danger


def _answer_pending(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    pending: dict[str, object],
    text: str,
) -> Outcome:
    """The answer to the question the bot asked last (the pending state, now cleared)."""
    kind = pending.get("kind")
    now = ctx.now()
    actor = actor_of(match)
    staff = staff_name(ctx.services.programmes, match, locale)
    day = cb.parse_day(str(pending.get("day", "")))
    texts = i18n.texts(locale)
    bad_date = texts.gettext("We could not read that date. Write e.g. 12/3 or 2026-03-12.")
    try:
        if kind == "checkin":
            checkin_id = _int(pending.get("checkin"))
            visits.add_checkin_text(session, checkin_id or 0, match, text, actor)
            saved = texts.gettext("Thank you, it's saved, and %(staff)s can read it.", staff=staff)
            return reply(chat_id, locale, saved)
        if kind == "worry":
            checkin_id = _int(pending.get("checkin"))
            visits.add_worry_text(session, checkin_id or 0, match, text, now=now, actor=actor)
            return reply(chat_id, locale, _worry_noted(texts, match, staff))
        if kind == "cancel_note" and day is not None:
            visits.add_visit_note(session, match, day, text, actor)
            return reply(chat_id, locale, texts.gettext("Thank you, it's noted."))
        if kind == "move" and day is not None:
            new_day = parse_day(text, day)
            if new_day is None:
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return reply(chat_id, locale, bad_date)
            try:
                visits.set_moved_to(session, match, day, new_day, actor)
            except VisitError as exc:
                if exc.reason != "date":
                    raise
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return reply(chat_id, locale, bad_date)
            return reply(chat_id, locale, moved_to(locale, new_day))
        if kind == "pause":
            return pause_from_text(session, ctx, chat_id, match, locale, text)
        if kind == bot_moments.PENDING:
            return bot_moments.on_text(session, ctx, chat_id, match, locale, pending, text)
        if kind == "stop_reason":
            visits.add_stop_reason(session, match, text, now=now, actor=actor)
            saved = texts.gettext("Thank you. It has been passed on to %(staff)s.", staff=staff)
            return reply(chat_id, locale, saved)
    except VisitError:
        pass
    # The question no longer fits (answered elsewhere meanwhile): treat it as a message.
    visits.message_from_family(session, match, text, now=now, actor=actor)
    return reply(chat_id, locale, passed_on(locale, staff))


def _child_voice_words(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    pending: dict[str, object],
    text: str,
) -> Outcome:
    """The child's own words to the open question: stored, and the moment completed."""
    found = child_voice.family_invitation(session, match, str(pending.get("wave", "")))
    question = child_voice.text_question(found[1], found[0].wave) if found else None
    now = ctx.now()
    staff = staff_name(ctx.services.programmes, match, locale)
    if found is None or question is None or not visits.clean_text(text):
        # The question no longer fits: treat it as a message, as for any other question.
        visits.message_from_family(session, match, text, now=now, actor=actor_of(match))
        return reply(chat_id, locale, passed_on(locale, staff))
    invitation, survey = found
    child_voice.answer(session, invitation, survey, question, text, now)
    child_voice.finish(session, invitation, now)
    return reply(chat_id, locale, child_voice_saved(locale, match.child.first_name, staff))
