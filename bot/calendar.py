"""``/calendar``: the address of the family's calendar feed (:mod:`followup.calendar_feed`).

``/calendar`` gives a new address when the family has none; with one already, it says so
(the token is stored only as a hash, so it cannot be shown again) and offers ``/calendar new``
(a new address, the old one stops working) and ``/calendar stop`` (closes it).
"""

from __future__ import annotations

from telegram import Update

from bot.common import Outcome, Reply, clear_pending, who_is
from bot.context import BotContext
from bot.formatting import long_day
from bot.texts import t
from followup.calendar_feed import active_feed, feed_url, issue_feed, revoke_feeds
from scheduler.facts import local_today

NEW = {"new", "ny", "nyt"}
STOP = {"stop", "luk", "revoke"}


def on_calendar(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    clear_pending(ctx.data)
    option = (ctx.args[0].lower() if ctx.args else "").strip()
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        locale = who.locale
        if who.family is None:
            return Outcome(locale, replies=[Reply(chat_id, t("help_unlinked", locale))])
        family = who.family
        actor = f"family:{family.id}"
        now = ctx.now()
        if option in STOP:
            text = (
                t("calendar_stopped", locale)
                if revoke_feeds(session, family.id, now, actor)
                else t("calendar_none", locale)
            )
        elif option and option not in NEW:
            text = t("calendar_unknown", locale)
        else:
            existing = active_feed(session, family.id)
            if existing is not None and option not in NEW:
                zone_day = local_today(existing.created_at, family.timezone)
                text = t("calendar_exists", locale, date=long_day(zone_day, locale))
            else:
                token = issue_feed(session, family.id, now, actor)
                url = feed_url(ctx.services.links_base, token)
                text = t("calendar_new", locale, url=url)
    return Outcome(locale, replies=[Reply(chat_id, text)])
