"""What every handler shares: who is writing, which match, the open question, and replying.

Handlers are thin: they read the update, do their work inside one short transaction (never
holding it across a network call), and send what :class:`Outcome` says afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, contains_eager, joinedload
from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    User,
)
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.buttons import Rows, worry_label
from bot.context import BotContext
from bot.formatting import chunks
from scheduler import i18n
from scheduler.facts import local_today
from scheduler.programme import Programme, StaffTitle
from store.models import Match, MatchStatus, Staff, VolunteerFamily

log = logging.getLogger(__name__)

PENDING = "pending"
# An open question older than this no longer catches the next message: a text written days
# later is a new message to staff, not the answer to "why was the visit cancelled?".
PENDING_TTL = timedelta(hours=24)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup


@dataclass(frozen=True)
class Reply:
    chat_id: int
    text: str
    markup: Markup | None = None


@dataclass
class Outcome:
    """What a handler decided, sent after its transaction has committed.

    For a button press: ``toast`` answers the callback query, ``edit`` replaces the pressed
    message's text and buttons (``markup``; None removes them), ``expired`` answers "this button
    has expired" and changes nothing. ``replies`` are new messages.
    """

    locale: str = "da"
    toast: str | None = None
    edit: str | None = None
    markup: InlineKeyboardMarkup | None = None
    keep_message: bool = True
    expired: bool = False
    replies: list[Reply] = field(default_factory=list)


def expired(locale: str) -> Outcome:
    return Outcome(locale=locale, expired=True)


def family_today(ctx: BotContext, match: Match) -> date:
    return local_today(ctx.now(), match.volunteer_family.timezone)


_UNSET: Any = object()


class Who:
    """The family and/or staff member linked to a chat, and the language to answer in.

    The staff member is looked up only when asked for: most updates come from families.
    """

    def __init__(
        self,
        session: Session,
        chat_id: int,
        user: User | None,
        family: VolunteerFamily | None = _UNSET,
    ) -> None:
        self._session = session
        self._chat_id = chat_id
        self._staff: Staff | None = _UNSET
        if family is _UNSET:
            family = session.scalars(
                select(VolunteerFamily).where(VolunteerFamily.telegram_chat_id == chat_id)
            ).first()
        self.family: VolunteerFamily | None = family
        if self.family is not None:
            self.locale = self.family.locale.value
        elif self.staff is not None:
            self.locale = self.staff.locale.value
        else:
            self.locale = user_locale(user)

    @property
    def staff(self) -> Staff | None:
        if self._staff is _UNSET:
            self._staff = self._session.scalars(
                select(Staff).where(Staff.telegram_chat_id == self._chat_id)
            ).first()
        return self._staff

    @property
    def linked(self) -> bool:
        return self.family is not None or self.staff is not None


def user_locale(user: User | None) -> str:
    code = (user.language_code or "") if user else ""
    if not code or code.lower().startswith(("da", "nb", "nn", "no", "sv")):
        return "da"
    return "en"


def who_is(session: Session, chat_id: int, user: User | None = None) -> Who:
    return Who(session, chat_id, user)


# One query with joins for what every reply needs (pauses load lazily, for plans only).
_MATCH_OPTIONS = (
    joinedload(Match.child),
    joinedload(Match.staff),
    joinedload(Match.programme),
    joinedload(Match.volunteer_family),
)


def family_matches(session: Session, family: VolunteerFamily, *, live_only: bool) -> list[Match]:
    """The family's matches, ongoing ones first; without ``live_only`` ended ones follow."""
    query = select(Match).where(Match.volunteer_family_id == family.id).options(*_MATCH_OPTIONS)
    matches = list(session.scalars(query.order_by(Match.id)).unique())
    live = [m for m in matches if m.status != MatchStatus.ENDED]
    if live_only:
        return live
    ended = sorted(
        (m for m in matches if m.status == MatchStatus.ENDED),
        key=lambda m: m.end_date or m.start_date,
        reverse=True,
    )
    return live + ended


def owned_match(session: Session, chat_id: int, match_id: int | None) -> Match | None:
    """The match, if the family linked to ``chat_id`` is its volunteer family; else None.

    One query: the ownership check is part of it, and the family comes along.
    """
    if match_id is None:
        return None
    return session.scalars(
        select(Match)
        .join(Match.volunteer_family)
        .where(Match.id == match_id, VolunteerFamily.telegram_chat_id == chat_id)
        .options(contains_eager(Match.volunteer_family))
    ).first()


def staff_title(programmes: Mapping[str, Programme], match: Match | None, locale: str) -> str:
    """The programme's word for the match's staff member, as "your ..." ("jeres procesleder",
    "jeres kontaktperson i Red Barnet"); without a match, a phrase that fits every programme."""
    texts = i18n.texts(locale)
    if match is None:
        return texts.gettext("the staff member you have been in touch with")
    programme = programmes.get(match.programme.slug)
    title = programme.staff_title if programme is not None else StaffTitle.PROCESLEDER
    organisation = match.programme.organisation or match.programme.name
    return i18n.staff_title(texts, title.value, organisation, to="family")


def staff_name(programmes: Mapping[str, Programme], match: Match | None, locale: str) -> str:
    """Who follows the match, as the family knows them: their name, else the programme's word."""
    if match is not None and match.staff is not None:
        return match.staff.name
    return staff_title(programmes, match, locale)


# -- the open question -------------------------------------------------------------------------


def set_pending(chat_data: dict[str, Any], kind: str, now: datetime, **fields: Any) -> None:
    chat_data[PENDING] = {"kind": kind, "since": now.isoformat(), **fields}


def get_pending(chat_data: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    pending = chat_data.get(PENDING)
    if not isinstance(pending, dict):
        return None
    try:
        since = datetime.fromisoformat(str(pending.get("since")))
    except ValueError:
        return None
    if now - since > PENDING_TTL:
        return None
    return pending


def clear_pending(chat_data: dict[str, Any]) -> None:
    chat_data.pop(PENDING, None)


# -- sending -----------------------------------------------------------------------------------


def inline(rows: Rows) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.text, callback_data=b.callback_data, url=b.url) for b in row]
            for row in rows
        ]
    )


def worry_keyboard(locale: str) -> ReplyKeyboardMarkup:
    """The always-visible "I'm worried about something" button under the chat."""
    return ReplyKeyboardMarkup(
        [[KeyboardButton(worry_label(locale))]], resize_keyboard=True, is_persistent=True
    )


def expired_text(locale: str) -> str:
    return i18n.texts(locale).gettext("This button has expired.")


async def send(bot: ExtBot[Any], reply: Reply) -> None:
    """Send a reply, split into messages Telegram accepts; buttons go with the last part."""
    parts = chunks(reply.text)
    for index, part in enumerate(parts):
        markup = reply.markup if index == len(parts) - 1 else None
        await bot.send_message(reply.chat_id, part, reply_markup=markup)


async def deliver(bot: ExtBot[Any], query: CallbackQuery | None, outcome: Outcome) -> None:
    """Carry out ``outcome``: answer the button press, edit its message, send the replies."""
    if query is not None:
        if outcome.expired:
            await query.answer(expired_text(outcome.locale))
            return
        await query.answer(outcome.toast)
        if outcome.edit is not None or not outcome.keep_message:
            await _edit(bot, query, outcome)
    for reply in outcome.replies:
        await send(bot, reply)


async def _edit(bot: ExtBot[Any], query: CallbackQuery, outcome: Outcome) -> None:
    message = query.message
    if message is None or not hasattr(message, "chat"):
        return
    try:
        if outcome.edit is not None:
            await bot.edit_message_text(
                chunks(outcome.edit)[0],
                chat_id=message.chat.id,
                message_id=message.message_id,
                reply_markup=outcome.markup,
            )
        else:
            await bot.edit_message_reply_markup(
                chat_id=message.chat.id, message_id=message.message_id, reply_markup=None
            )
    except BadRequest:
        # The message is too old to edit, or already looks like this: say it in a new one.
        if outcome.edit is not None:
            await send(bot, Reply(message.chat.id, outcome.edit, outcome.markup))


# -- shared by the family's handlers -----------------------------------------------------------


def actor_of(match: Match) -> str:
    """Who did it, for the audit trail: the match's volunteer family."""
    return f"family:{match.volunteer_family_id}"


def reply(chat_id: int, locale: str, text: str, markup: Markup | None = None) -> Outcome:
    return Outcome(locale=locale, replies=[Reply(chat_id, text, markup)])


def help_text(ctx: BotContext, who: Who, session: Session) -> str:
    parts = []
    if who.family is not None:
        matches = family_matches(session, who.family, live_only=False)
        staff = staff_name(ctx.services.programmes, matches[0] if matches else None, who.locale)
        parts.append(family_help(who.locale, staff))
    if who.staff is not None:
        parts.append(staff_help(who.staff.locale.value))
    return "\n\n".join(parts) if parts else unlinked_help(who.locale)


def unlinked_help(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "Hi! This bot is for the volunteer families and staff of our friendship-family "
        "programmes.\n\n"
        "To get started, open the personal link we gave you. If you have no link, or it has "
        "expired, ask the staff member you have been in touch with for a new one."
    )


def family_help(locale: str, staff: str) -> str:
    return i18n.texts(locale).gettext(
        "What you can do here:\n"
        "/checkin – tell us how things are going\n"
        "/plan – your year plan\n"
        "/next – what happens next\n"
        "/calendar – visits and dates in your calendar\n"
        "/greeting – send a greeting (and a photo) to the child's parent\n"
        "/pause – pause the visit messages, e.g. for the summer holiday\n"
        "/stop – if you want to end the match\n"
        "/language – language (dansk/English)\n"
        "/cancel – cancel what you are in the middle of\n\n"
        "Write an ordinary message and we pass it on to %(staff)s. "
        'If you are worried about something, tap "%(worry)s".',
        staff=staff,
        worry=worry_label(locale),
    )


def staff_help(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "/today – your tasks and open cases\n"
        "/match ID – summary of a match\n"
        "/language – language (dansk/English)"
    )


def no_match(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "We cannot find an ongoing match for you. Please contact the staff member you have "
        "been in touch with."
    )
