"""Free text from a volunteer family: the answer to the bot's open question, or a message to
staff. Runs in a worker thread, like every handler (see :mod:`bot.app`)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from telegram import Update

from bot import callbacks as cb
from bot.common import (
    Outcome,
    clear_pending,
    family_matches,
    get_pending,
    owned_match,
    set_pending,
    staff_name,
    who_is,
)
from bot.context import BotContext
from bot.family import actor_of, for_family, help_text, pause_from_text, reply
from bot.formatting import long_day, parse_day
from bot.texts import all_variants, t
from followup import child_voice, visits
from followup.visits import VisitError
from store.models import Match

WORRY_TEXTS = all_variants("btn_worry")


def on_text(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    text = update.effective_message.text or ""  # type: ignore[union-attr]
    now = ctx.now()
    with ctx.transaction() as session:
        pending = get_pending(ctx.data, now)
        if pending is not None and text.strip() not in WORRY_TEXTS:
            # The answer to the bot's last question: the match (and with it the family) in one
            # query, which also checks that this chat still owns it.
            clear_pending(ctx.data)
            match = owned_match(session, chat_id, _int(pending.get("match")))
            if match is not None:
                locale = match.volunteer_family.locale.value
                return _answer_pending(session, ctx, chat_id, match, locale, pending, text)
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return reply(chat_id, who.locale, help_text(who, session))
        if text.strip() in WORRY_TEXTS:
            clear_pending(ctx.data)
            return for_family(session, ctx, chat_id, who, "wo")
        if not visits.clean_text(text):
            return reply(chat_id, who.locale, t("non_text", who.locale))
        matches = family_matches(session, who.family, live_only=False)
        if not matches:
            return reply(chat_id, who.locale, t("no_match", who.locale))
        match = matches[0]
        visits.message_from_family(session, match, text, now=now, actor=actor_of(match))
        return reply(
            chat_id,
            who.locale,
            t("message_passed_on", who.locale, staff=staff_name(match, who.locale)),
        )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


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
    staff = staff_name(match, locale)
    day = cb.parse_day(str(pending.get("day", "")))
    if kind == "child_voice":
        return _child_voice_words(session, ctx, chat_id, match, locale, pending, text)
    try:
        if kind == "checkin":
            checkin_id = _int(pending.get("checkin"))
            visits.add_checkin_text(session, checkin_id or 0, match, text, actor)
            return reply(chat_id, locale, t("checkin_text_saved", locale, staff=staff))
        if kind == "worry":
            checkin_id = _int(pending.get("checkin"))
            visits.add_worry_text(session, checkin_id or 0, match, text, now=now, actor=actor)
            phone = match.staff.phone if match.staff is not None else None
            phone_text = t("worry_phone", locale, phone=phone) if phone else ""
            return reply(chat_id, locale, t("worry_saved", locale, staff=staff, phone=phone_text))
        if kind == "cancel_note" and day is not None:
            visits.add_visit_note(session, match, day, text, actor)
            return reply(chat_id, locale, t("note_saved", locale))
        if kind == "move" and day is not None:
            new_day = parse_day(text, day)
            if new_day is None:
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return reply(chat_id, locale, t("bad_date", locale))
            try:
                visits.set_moved_to(session, match, day, new_day, actor)
            except VisitError as exc:
                if exc.reason != "date":
                    raise
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return reply(chat_id, locale, t("bad_date", locale))
            return reply(
                chat_id, locale, t("visit_moved_saved", locale, date=long_day(new_day, locale))
            )
        if kind == "pause":
            return pause_from_text(session, ctx, chat_id, match, locale, text)
        if kind == "stop_reason":
            visits.add_stop_reason(session, match, text, now=now, actor=actor)
            return reply(chat_id, locale, t("stop_reason_saved", locale, staff=staff))
    except VisitError:
        pass
    # The question no longer fits (answered elsewhere meanwhile): treat it as a message.
    visits.message_from_family(session, match, text, now=now, actor=actor)
    return reply(chat_id, locale, t("message_passed_on", locale, staff=staff))


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
    staff = staff_name(match, locale)
    if found is None or question is None or not visits.clean_text(text):
        # The question no longer fits: treat it as a message, as for any other question.
        visits.message_from_family(session, match, text, now=now, actor=actor_of(match))
        return reply(chat_id, locale, t("message_passed_on", locale, staff=staff))
    invitation, survey = found
    child_voice.answer(session, invitation, survey, question, text, now)
    child_voice.finish(session, invitation, now)
    child = match.child.first_name
    return reply(chat_id, locale, t("child_voice_saved", locale, child=child, staff=staff))
