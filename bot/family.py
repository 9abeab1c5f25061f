"""The volunteer family's side of the bot: linking, commands about one match, help, language.

Each function reads the update, does its work through ``followup`` inside one transaction and
returns an :class:`~bot.common.Outcome`; :mod:`bot.app` runs it in a worker thread and sends
the outcome from the event loop. Free text is answered in :mod:`bot.answers`, button presses in
:mod:`bot.presses`, pausing a match in :mod:`bot.holiday_pause`.
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
    Reply,
    Who,
    actor_of,
    clear_pending,
    family_matches,
    help_text,
    inline,
    no_match,
    reply,
    set_pending,
    staff_help,
    staff_name,
    unlinked_help,
    who_is,
    worry_keyboard,
)
from bot.context import BotContext
from bot.formatting import long_day, next_things, plan_text
from bot.holiday_pause import do_pause
from followup import visits
from followup.invites import InviteError, redeem_invite
from scheduler import i18n
from scheduler.facts import facts_for
from scheduler.i18n import N_
from scheduler.recipients import family_recipient
from store.models import Match, MatchStatus, Staff, VolunteerFamily

# What a command does once it knows the match: (session, context, chat, match, locale).
Action = Callable[[Session, BotContext, int, Match, str], Outcome]


# Why an invite link did not work (InviteError.reason).
INVITE_ERRORS = {
    "unknown": N_(
        "Sorry, we don't recognise that link. Perhaps it was not copied in full. Ask the "
        "staff member who gave you the link for a new one."
    ),
    "expired": N_(
        "The link has expired: a link is valid for 14 days. Ask the staff member who gave you "
        "the link for a new one."
    ),
    "used": N_(
        "The link has already been used: a link works only once. To connect a new phone, ask "
        "the staff member who gave you the link for a new one."
    ),
}


# -- linking -----------------------------------------------------------------------------------


def start(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    token = ctx.args[0] if ctx.args else None
    clear_pending(ctx.data)
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if token is None:
            if not who.linked:
                return reply(chat_id, who.locale, unlinked_help(who.locale))
            back = i18n.texts(who.locale).gettext("Hello again! You are already connected.")
            return reply(chat_id, who.locale, f"{back}\n\n{help_text(ctx, who, session)}")
        try:
            linked = redeem_invite(session, token, chat_id, ctx.now())
        except InviteError as exc:
            message = INVITE_ERRORS.get(exc.reason, INVITE_ERRORS["unknown"])
            return reply(chat_id, who.locale, i18n.texts(who.locale).gettext(message))
        if linked.kind == "staff":
            staff = session.get(Staff, linked.subject_id)
            assert staff is not None
            locale = staff.locale.value
            text = i18n.texts(locale).gettext(
                "Welcome, %(name)s. This chat is now connected as staff: you are told here when "
                "a family writes, is worried or wants to stop.",
                name=staff.name,
            )
            return reply(chat_id, locale, f"{text}\n\n{staff_help(locale)}")
        family = session.get(VolunteerFamily, linked.subject_id)
        assert family is not None
        return _linked_family(session, ctx, chat_id, family)


def _linked_family(
    session: Session, ctx: BotContext, chat_id: int, family: VolunteerFamily
) -> Outcome:
    locale = family.locale.value
    matches = family_matches(session, family, live_only=False)
    first = matches[0] if matches else None
    texts = i18n.texts(locale)
    welcome = texts.gettext(
        "Welcome, %(contact)s! %(family)s is now connected to %(organisation)s.\n\n"
        "What we store: your answers about the visits (the date, and whether the visit "
        "happened), how things are going, and the messages you write here. %(child)s is named "
        "by first name only. Never write CPR numbers: we remove them automatically.\n\n"
        "Who sees it: only %(staff)s and the staff at %(organisation)s who follow your "
        "match. We don't share it with anyone else.\n\n"
        "On the visit day we ask whether %(child)s came: one tap is enough. Just write here if "
        "something is on your mind, and we pass it on. The button at the bottom is for when "
        "you are worried about something. /help shows what else you can do.",
        contact=family.contact_name,
        family=family.name,
        organisation=(first.programme.organisation or first.programme.name)
        if first
        else texts.pgettext("the organisation", "us"),
        child=first.child.first_name if first else texts.gettext("the child"),
        staff=staff_name(ctx.services.programmes, first, locale),
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
    texts = i18n.texts(locale)
    title = texts.gettext(
        "Year plan for %(child)s and %(family)s (%(programme)s):",
        child=match.child.first_name,
        family=match.volunteer_family.name,
        programme=programme.name,
    )
    family = family_recipient(match.volunteer_family)
    legend = texts.gettext("✓ = has happened")
    return plan_text(programme, facts, ctx.now(), locale, title, legend, family)


def do_plan(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    text = _plan_text(session, ctx, match, locale)
    return reply(chat_id, locale, text or no_match(locale))


def do_next(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    programme = ctx.services.programmes.get(match.programme.slug)
    if programme is None:
        return reply(chat_id, locale, no_match(locale))
    visit, event = next_things(programme, facts_for(session, match, programme), ctx.now(), locale)
    texts = i18n.texts(locale)
    lines = []
    if visit is not None:
        lines.append(texts.gettext("Next visit: %(date)s.", date=long_day(visit, locale)))
    elif match.status == MatchStatus.PAUSED:
        lines.append(texts.gettext("The visit messages are paused."))
    if event is not None:
        lines.append(
            texts.gettext(
                "After that: %(what)s, %(date)s.", what=event[0], date=long_day(event[1], locale)
            )
        )
    nothing = texts.gettext("There is nothing more planned in this match.")
    return reply(chat_id, locale, "\n".join(lines) or nothing)


def do_checkin(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str
) -> Outcome:
    ref = "t" + cb.moment_code(ctx.now())
    markup = inline(kb.mood_buttons(match.id, ref, locale))
    text = i18n.texts(locale).gettext(
        "How are things going with %(child)s? 1 = badly, 5 = very well.",
        child=match.child.first_name,
    )
    return reply(chat_id, locale, text, markup)


def do_stop(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return reply(chat_id, locale, no_match(locale))
    text = i18n.texts(locale).gettext(
        "Do you want to end the match with %(child)s? It is perfectly fine to say so. "
        "Afterwards %(staff)s will contact you to talk about it.",
        child=match.child.first_name,
        staff=staff_name(ctx.services.programmes, match, locale),
    )
    return reply(chat_id, locale, text, inline(kb.stop_buttons(match.id, locale)))


def do_worry(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    now = ctx.now()
    checkin, _ = visits.raise_worry(session, match, now=now, actor=actor_of(match))
    set_pending(ctx.data, "worry", now, match=match.id, checkin=checkin.id)
    text = i18n.texts(locale).gettext(
        "Thank you for telling us. We have told %(staff)s, who will contact you as soon as "
        "possible.\n\nPlease write briefly what you are worried about.",
        staff=staff_name(ctx.services.programmes, match, locale),
    )
    return reply(chat_id, locale, text)


ACTIONS: dict[str, Action] = {
    "ci": do_checkin,
    "pl": do_plan,
    "nx": do_next,
    "pa": do_pause,
    "st": do_stop,
    "wo": do_worry,
    "gr": moments.do_greeting,
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
                return reply(chat_id, who.locale, help_text(ctx, who, session))
            return for_family(session, ctx, chat_id, who, what)

    return handle


def for_family(session: Session, ctx: BotContext, chat_id: int, who: Who, what: str) -> Outcome:
    assert who.family is not None
    matches = family_matches(session, who.family, live_only=True)
    if not matches and what in AFTER_END:
        matches = family_matches(session, who.family, live_only=False)[:1]
    if not matches:
        return reply(chat_id, who.locale, no_match(who.locale))
    if len(matches) > 1:
        markup = inline(kb.pick_buttons(matches, what))
        which = i18n.texts(who.locale).gettext("Which child is it about?")
        return reply(chat_id, who.locale, which, markup)
    return ACTIONS[what](session, ctx, chat_id, matches[0], who.locale)


def on_other(ctx: BotContext, update: Update) -> Outcome:
    """A sticker, photo, location...: nothing is stored; the family is told to write text."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return reply(chat_id, who.locale, help_text(ctx, who, session))
        return reply(chat_id, who.locale, text_only(who.locale))


def text_only(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "We can only read text here. Write a message and we will pass it on."
    )


def on_help(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        return reply(chat_id, who.locale, help_text(ctx, who, session))


def on_cancel(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return reply(chat_id, who.locale, unlinked_help(who.locale))
    clear_pending(ctx.data)
    return reply(chat_id, who.locale, i18n.texts(who.locale).gettext("OK, cancelled."))


def on_language(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return reply(chat_id, who.locale, unlinked_help(who.locale))
    ask = i18n.texts(who.locale).gettext("Choose language / Vælg sprog")
    return reply(chat_id, who.locale, ask, inline(kb.language_buttons()))
