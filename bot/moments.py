"""A volunteer family's greeting to the child's parent, with a photo when the parent has
consented (see :mod:`followup.moments`): ``/greeting`` or the "Send a greeting" button, then a
text and/or a photo, a preview, and the family's confirmation.

A photo is fetched from Telegram (``getFile``, then the file's download) only after the family,
the match and the parent's consent have been checked, and only when Telegram says it is small
enough; its bytes are checked again (JPEG or PNG, size). Neither the text nor the photo is ever
logged.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from babel.lists import format_list
from sqlalchemy.orm import Session
from telegram import Update
from telegram.error import TelegramError

from bot import callbacks as cb
from bot.buttons import Rows
from bot.common import (
    Outcome,
    actor_of,
    clear_pending,
    deliver,
    family_matches,
    get_pending,
    help_text,
    inline,
    no_match,
    owned_match,
    reply,
    set_pending,
    staff_name,
    who_is,
)
from bot.context import BotContext
from followup import moments
from followup.moments import MomentError
from followup.visits import clean_text
from scheduler import i18n
from scheduler.channels.base import Button
from store.models import Match, Moment

log = logging.getLogger(__name__)

PENDING = "greeting"
IMAGE_TYPES = ("image/jpeg", "image/png")


def _names(contacts: list[str], locale: str) -> str:
    """The parents' names as a list in the reader's language: "Forælder og Parent Two"."""
    return format_list(contacts, locale=locale) if contacts else ""


def _off(locale: str, staff: str) -> str:
    return i18n.texts(locale).gettext(
        "Greetings to the child's parent are not turned on in your programme. Please write to "
        "%(staff)s and we will work it out together.",
        staff=staff,
    )


def _no_parent(locale: str, staff: str) -> str:
    return i18n.texts(locale).gettext(
        "We cannot send a greeting to the child's parent right now. Please write to %(staff)s "
        "if you would like to pass on a greeting.",
        staff=staff,
    )


def _empty(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "There was no text in the message. Write your greeting, or send a photo."
    )


def _photo_bad(locale: str) -> str:
    return i18n.texts(locale).gettext(
        "Sorry, we cannot send that picture. It must be an ordinary photo (JPEG or PNG) of at "
        "most 5 MB. Please try another one."
    )


def greeting_button(match: Match, ctx: BotContext, locale: str) -> Rows:
    """The "Send a greeting to <parent>" button, when the match's programme allows greetings
    and a parent can receive one; else no button."""
    programme = ctx.services.programmes.get(match.programme.slug)
    if not moments.enabled(programme):
        return ()
    found = moments.deliveries(match, programme, photo=False)
    if not found:
        return ()
    texts = i18n.texts(locale)
    names = _names([d.contact.name for d in found], locale)
    label = texts.gettext("💌 Send a greeting to %(parents)s", parents=names)
    if len(label.encode()) > 60:
        label = texts.gettext("💌 Send a greeting")
    return ((Button(label, cb.make("pk", match.id, "gr")),),)


def do_greeting(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str
) -> Outcome:
    """Ask for the greeting's text (and photo)."""
    programme = ctx.services.programmes.get(match.programme.slug)
    staff = staff_name(ctx.services.programmes, match, locale)
    if not moments.enabled(programme):
        return reply(chat_id, locale, _off(locale, staff))
    found = moments.deliveries(match, programme, photo=True)
    if not found:
        return reply(chat_id, locale, _no_parent(locale, staff))
    set_pending(ctx.data, PENDING, ctx.now(), match=match.id)
    texts = i18n.texts(locale)
    names = _names([d.contact.name for d in found], locale)
    if any(d.photo for d in found):
        ask = texts.gettext(
            "Write your greeting to %(parents)s, e.g. what you did together today. You can also "
            "send a photo.\n\nYou will see the greeting before it is sent.",
            parents=names,
        )
    else:
        ask = texts.gettext(
            "Write your greeting to %(parents)s, e.g. what you did together today. We can only "
            "send text, not photos, as we do not have permission for photos.\n\n"
            "You will see the greeting before it is sent.",
            parents=names,
        )
    return reply(chat_id, locale, ask)


def on_text(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    pending: dict[str, object],
    text: str,
) -> Outcome:
    """The greeting's text (a new text replaces the draft's)."""
    now = ctx.now()
    moment_id = pending.get("moment")
    moment = moments.draft(session, match, now, moment_id if isinstance(moment_id, int) else None)
    set_pending(ctx.data, PENDING, now, match=match.id, moment=moment.id)
    if not moments.set_text(moment, text, locale) and moment.photo_type is None:
        return reply(chat_id, locale, _empty(locale))
    return preview(session, ctx, chat_id, match, moment, locale)


def preview(
    session: Session, ctx: BotContext, chat_id: int, match: Match, moment: Moment, locale: str
) -> Outcome:
    """How the greeting will look, who gets it, and the buttons to send or drop it."""
    programme = ctx.services.programmes.get(match.programme.slug)
    has_photo = moment.photo_type is not None
    found = moments.deliveries(match, programme, photo=has_photo)
    # A greeting without text goes only to those who may see the photo.
    found = [d for d in found if moment.text or d.photo]
    texts = i18n.texts(locale)
    names = _names([d.contact.name for d in found], locale)
    lines = [texts.gettext("This is the greeting to %(parents)s:", parents=names)]
    lines.append(f"\n{moment.text}" if moment.text else "")
    if has_photo:
        with_photo = [d.contact.name for d in found if d.photo]
        if len(with_photo) == len(found):
            lines.append(texts.gettext("📷 With your photo."))
        else:
            lines.append(
                texts.gettext(
                    "📷 The photo goes only to %(parents)s, who agreed to receive photos.",
                    parents=_names(with_photo, locale),
                )
            )
    ask = texts.gettext(
        "Shall we send it? To change the text, just write it again. You can also send a photo."
    )
    lines.append(f"\n{ask}")
    text = "\n".join(line for line in lines if line)
    send = texts.pgettext("greeting", "✉️ Send it")
    drop = texts.pgettext("greeting", "Cancel")
    buttons = (
        (
            Button(send, cb.make("mo", match.id, moment.id, "y")),
            Button(drop, cb.make("mo", match.id, moment.id, "n")),
        ),
    )
    return reply(chat_id, locale, text, inline(buttons))


def on_press(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    """Send or drop the previewed greeting (the match's own draft only)."""
    moment = session.get(Moment, int(data.fields[0]))
    if moment is None or moment.match_id != match.id or moment.sent_at is not None:
        return Outcome(locale=locale, expired=True)
    clear_pending(ctx.data)
    if data.fields[1] == "n":
        moments.discard(session, moment)
        dropped = i18n.texts(locale).gettext(
            "OK, the greeting was not sent, and we have deleted it."
        )
        return Outcome(locale, edit=dropped)
    programme = ctx.services.programmes.get(match.programme.slug)
    staff = staff_name(ctx.services.programmes, match, locale)
    try:
        found = moments.send(
            session, moment, match, programme, now=ctx.now(), actor=actor_of(match)
        )
    except MomentError as exc:
        if exc.reason == "off":
            return Outcome(locale, edit=_off(locale, staff))
        if exc.reason == "no_parent":
            return Outcome(locale, edit=_no_parent(locale, staff))
        return Outcome(locale, edit=_empty(locale))
    names = _names([d.contact.name for d in found], locale)
    sent = i18n.texts(locale).gettext(
        "Thank you! The greeting is on its way to %(parents)s. 💌", parents=names
    )
    return Outcome(locale, edit=sent)


# -- photos ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fetch:
    """A photo to fetch from Telegram for a checked draft."""

    match_id: int
    moment_id: int | None
    file_id: str
    caption: str
    locale: str


async def on_photo(update: Update, context: BotContext) -> None:
    """A photo (or an image sent as a file): checked, fetched, kept on the draft, previewed."""
    decided = await asyncio.to_thread(_check_photo, context, update)
    if isinstance(decided, Outcome):
        await deliver(context.bot, None, decided)
        return
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    data: bytes | None = None
    try:
        file = await context.bot.get_file(decided.file_id)
        if file.file_size is None or file.file_size <= moments.PHOTO_MAX_BYTES:
            data = bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        log.warning(
            "update %s: the photo could not be fetched (%s)", update.update_id, type(exc).__name__
        )
        failed = i18n.texts(decided.locale).gettext(
            "We could not fetch the photo just now. Please try sending it again in a moment."
        )
        outcome = reply(chat_id, decided.locale, failed)
        await deliver(context.bot, None, outcome)
        return
    outcome = await asyncio.to_thread(_keep_photo, context, update, decided, data)
    await deliver(context.bot, None, outcome)


def _check_photo(ctx: BotContext, update: Update) -> Outcome | _Fetch:
    message = update.effective_message
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    assert message is not None
    now = ctx.now()
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return reply(chat_id, who.locale, help_text(ctx, who, session))
        locale = who.locale
        pending = get_pending(ctx.data, now)
        match, moment_id = None, None
        if pending is not None and pending.get("kind") == PENDING:
            match = owned_match(session, chat_id, _int(pending.get("match")))
            moment_id = _int(pending.get("moment"))
        if match is None:
            live = family_matches(session, who.family, live_only=True)
            match = live[0] if live else None
        if match is None:
            return reply(chat_id, locale, no_match(locale))
        programme = ctx.services.programmes.get(match.programme.slug)
        staff = staff_name(ctx.services.programmes, match, locale)
        if not moments.enabled(programme):
            return reply(chat_id, locale, _off(locale, staff))
        found = moments.deliveries(match, programme, photo=True)
        if not found:
            return reply(chat_id, locale, _no_parent(locale, staff))
        caption = message.caption or ""
        if not any(d.photo for d in found):
            # Nobody may receive a photo: it is not fetched. The caption may still go.
            set_pending(ctx.data, PENDING, now, match=match.id, **_moment(moment_id))
            texts = i18n.texts(locale)
            refused = texts.ngettext(
                "Thank you for the photo! Unfortunately %(parents)s has not given us permission "
                "to send photos, so the photo will not be sent, and we do not keep it. Please ask "
                "%(staff)s if you have questions.",
                "Thank you for the photo! Unfortunately %(parents)s have not given us permission "
                "to send photos, so the photo will not be sent, and we do not keep it. Please ask "
                "%(staff)s if you have questions.",
                len(found),
                parents=_names([d.contact.name for d in found], locale),
                staff=staff,
            )
            if not clean_text(caption):
                still = texts.gettext("The text can still be sent: write your greeting here.")
                return reply(chat_id, locale, f"{refused}\n\n{still}")
            moment = moments.draft(session, match, now, moment_id)
            moments.set_text(moment, caption, locale)
            set_pending(ctx.data, PENDING, now, match=match.id, moment=moment.id)
            shown = preview(session, ctx, chat_id, match, moment, locale)
            shown.replies.insert(0, reply(chat_id, locale, refused).replies[0])
            return shown
        file_id = _file_id(message)
        if file_id is None:
            set_pending(ctx.data, PENDING, now, match=match.id, **_moment(moment_id))
            return reply(chat_id, locale, _photo_bad(locale))
        return _Fetch(match.id, moment_id, file_id, caption, locale)


def _file_id(message: object) -> str | None:
    """The largest size of a photo that is small enough, or an image file's id; None when the
    photo is too large or the file is no JPEG or PNG."""
    photos = getattr(message, "photo", None) or ()
    if photos:
        fitting = [p for p in photos if (p.file_size or 0) <= moments.PHOTO_MAX_BYTES]
        if not fitting:
            return None
        return str(max(fitting, key=lambda p: (p.width * p.height, p.file_size or 0)).file_id)
    document = getattr(message, "document", None)
    if document is None or document.mime_type not in IMAGE_TYPES:
        return None
    if (document.file_size or 0) > moments.PHOTO_MAX_BYTES:
        return None
    return str(document.file_id)


def _keep_photo(ctx: BotContext, update: Update, fetch: _Fetch, data: bytes | None) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    now = ctx.now()
    locale = fetch.locale
    with ctx.transaction() as session:
        match = owned_match(session, chat_id, fetch.match_id)
        if match is None:
            return reply(chat_id, locale, no_match(locale))
        moment = moments.draft(session, match, now, fetch.moment_id)
        set_pending(ctx.data, PENDING, now, match=match.id, moment=moment.id)
        try:
            if data is None:
                raise MomentError("photo")
            moments.set_photo(moment, data)
        except MomentError:
            return reply(chat_id, locale, _photo_bad(locale))
        if clean_text(fetch.caption):
            moments.set_text(moment, fetch.caption, locale)
        return preview(session, ctx, chat_id, match, moment, locale)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _moment(moment_id: int | None) -> dict[str, int]:
    return {"moment": moment_id} if moment_id is not None else {}
