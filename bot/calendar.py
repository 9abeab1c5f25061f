"""``/calendar``: the address of the family's calendar feed (:mod:`followup.calendar_feed`).

``/calendar`` gives a new address when the family has none; with one already, it says so
(the token is stored only as a hash, so it cannot be shown again) and offers ``/calendar new``
(a new address, the old one stops working) and ``/calendar stop`` (closes it).
"""

from __future__ import annotations

from telegram import Update

from bot.common import Outcome, Reply, clear_pending, who_is
from bot.context import BotContext
from bot.family import unlinked_help
from bot.formatting import long_day
from followup.calendar_feed import active_feed, feed_url, issue_feed, revoke_feeds
from scheduler import i18n
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
        texts = i18n.texts(locale)
        if who.family is None:
            return Outcome(locale, replies=[Reply(chat_id, unlinked_help(locale))])
        family = who.family
        actor = f"family:{family.id}"
        now = ctx.now()
        if option in STOP:
            text = (
                texts.gettext("The calendar link is closed. Write /calendar if you want a new one.")
                if revoke_feeds(session, family.id, now, actor)
                else texts.gettext("You have no calendar link. Write /calendar to get one.")
            )
        elif option and option not in NEW:
            text = texts.gettext(
                "We did not understand that. Write /calendar, /calendar new or /calendar stop."
            )
        else:
            existing = active_feed(session, family.id)
            if existing is not None and option not in NEW:
                zone_day = local_today(existing.created_at, family.timezone)
                text = texts.gettext(
                    "You already have a calendar link (from %(date)s). To protect your data we "
                    "do not show it again.\n\n"
                    "/calendar new – a new link (the old one stops working)\n"
                    "/calendar stop – close the calendar link",
                    date=long_day(zone_day, locale),
                )
            else:
                token = issue_feed(session, family.id, now, actor)
                url = feed_url(ctx.services.links_base, token)
                text = texts.gettext(
                    "Here is your calendar with visit days, group sparring and the "
                    "anniversary:\n%(url)s\n\n"
                    "Add it to your phone's calendar as a subscription (iPhone: Settings > "
                    "Calendar > Accounts > Add Account > Other > Add Subscribed Calendar; Google "
                    "Calendar: Other calendars > From URL). It updates itself.\n\n"
                    "The link is personal: share it only within your own family. Write "
                    "/calendar stop to close it.",
                    url=url,
                )
    return Outcome(locale, replies=[Reply(chat_id, text)])
