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
    owned_match,
    reply,
    set_pending,
    staff_name,
    who_is,
)
from bot.context import BotContext
from bot.texts import t
from followup import moments
from followup.moments import MomentError
from followup.visits import clean_text
from scheduler.channels.base import Button
from store.models import Match, Moment

log = logging.getLogger(__name__)

PENDING = "greeting"
IMAGE_TYPES = ("image/jpeg", "image/png")


def _names(contacts: list[str], locale: str) -> str:
    if len(contacts) <= 1:
        return "".join(contacts)
    joined = t("and", locale)
    return f"{', '.join(contacts[:-1])} {joined} {contacts[-1]}"


def greeting_button(match: Match, ctx: BotContext, locale: str) -> Rows:
    """The "Send a greeting to <parent>" button, when the match's programme allows greetings
    and a parent can receive one; else no button."""
    programme = ctx.services.programmes.get(match.programme.slug)
    if not moments.enabled(programme):
        return ()
    found = moments.deliveries(match, programme, photo=False)
    if not found:
        return ()
    names = _names([d.contact.name for d in found], locale)
    label = t("btn_greeting", locale, parents=names)
    if len(label.encode()) > 60:
        label = t("btn_greeting_short", locale)
    return ((Button(label, cb.make("pk", match.id, "gr")),),)


def do_greeting(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str
) -> Outcome:
    """Ask for the greeting's text (and photo)."""
    programme = ctx.services.programmes.get(match.programme.slug)
    if not moments.enabled(programme):
        return reply(chat_id, locale, t("greeting_off", locale, staff=staff_name(match, locale)))
    found = moments.deliveries(match, programme, photo=True)
    if not found:
        return reply(
            chat_id, locale, t("greeting_no_parent", locale, staff=staff_name(match, locale))
        )
    set_pending(ctx.data, PENDING, ctx.now(), match=match.id)
    names = _names([d.contact.name for d in found], locale)
    photo = t("greeting_ask_photo" if any(d.photo for d in found) else "greeting_ask_text", locale)
    return reply(chat_id, locale, t("greeting_ask", locale, parents=names, photo=photo))


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
        return reply(chat_id, locale, t("greeting_empty", locale))
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
    names = _names([d.contact.name for d in found], locale)
    lines = [t("greeting_preview", locale, parents=names)]
    lines.append(f"\n{moment.text}" if moment.text else "")
    if has_photo:
        with_photo = [d.contact.name for d in found if d.photo]
        if len(with_photo) == len(found):
            lines.append(t("greeting_preview_photo", locale))
        else:
            lines.append(
                t("greeting_preview_photo_some", locale, parents=_names(with_photo, locale))
            )
    lines.append(t("greeting_preview_ask", locale))
    text = "\n".join(line for line in lines if line)
    buttons = (
        (
            Button(t("btn_greeting_send", locale), cb.make("mo", match.id, moment.id, "y")),
            Button(t("btn_greeting_drop", locale), cb.make("mo", match.id, moment.id, "n")),
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
        return Outcome(locale, edit=t("greeting_dropped", locale))
    programme = ctx.services.programmes.get(match.programme.slug)
    staff = staff_name(match, locale)
    try:
        found = moments.send(
            session, moment, match, programme, now=ctx.now(), actor=actor_of(match)
        )
    except MomentError as exc:
        key = {"off": "greeting_off", "no_parent": "greeting_no_parent"}.get(
            exc.reason, "greeting_empty"
        )
        return Outcome(locale, edit=t(key, locale, staff=staff))
    names = _names([d.contact.name for d in found], locale)
    return Outcome(locale, edit=t("greeting_sent", locale, parents=names))


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
        outcome = reply(chat_id, decided.locale, t("greeting_photo_failed", decided.locale))
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
            return reply(chat_id, who.locale, help_text(who, session))
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
            return reply(chat_id, locale, t("no_match", locale))
        programme = ctx.services.programmes.get(match.programme.slug)
        staff = staff_name(match, locale)
        if not moments.enabled(programme):
            return reply(chat_id, locale, t("greeting_off", locale, staff=staff))
        found = moments.deliveries(match, programme, photo=True)
        if not found:
            return reply(chat_id, locale, t("greeting_no_parent", locale, staff=staff))
        caption = message.caption or ""
        if not any(d.photo for d in found):
            # Nobody may receive a photo: it is not fetched. The caption may still go.
            set_pending(ctx.data, PENDING, now, match=match.id, **_moment(moment_id))
            names = _names([d.contact.name for d in found], locale)
            refused = t("greeting_photo_no_consent", locale, parents=names, staff=staff)
            if not clean_text(caption):
                return reply(chat_id, locale, f"{refused}\n\n{t('greeting_text_only', locale)}")
            moment = moments.draft(session, match, now, moment_id)
            moments.set_text(moment, caption, locale)
            set_pending(ctx.data, PENDING, now, match=match.id, moment=moment.id)
            shown = preview(session, ctx, chat_id, match, moment, locale)
            shown.replies.insert(0, reply(chat_id, locale, refused).replies[0])
            return shown
        file_id = _file_id(message)
        if file_id is None:
            set_pending(ctx.data, PENDING, now, match=match.id, **_moment(moment_id))
            return reply(chat_id, locale, t("greeting_photo_bad", locale))
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
            return reply(chat_id, locale, t("no_match", locale))
        moment = moments.draft(session, match, now, fetch.moment_id)
        set_pending(ctx.data, PENDING, now, match=match.id, moment=moment.id)
        try:
            if data is None:
                raise MomentError("photo")
            moments.set_photo(moment, data)
        except MomentError:
            return reply(chat_id, locale, t("greeting_photo_bad", locale))
        if clean_text(fetch.caption):
            moments.set_text(moment, fetch.caption, locale)
        return preview(session, ctx, chat_id, match, moment, locale)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _moment(moment_id: int | None) -> dict[str, int]:
    return {"moment": moment_id} if moment_id is not None else {}
