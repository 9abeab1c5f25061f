"""``venskab serve`` sends replies and scheduled messages through ONE Telegram ``Bot`` with ONE
rate limiter: two bots would each allow Telegram's per-chat rate, and together exceed it."""

from __future__ import annotations

from telegram.ext import ExtBot

from scheduler.channels import OutgoingMessage
from scheduler.channels.telegram import TelegramChannel
from tests.fakes.telegram import FakeTelegram
from tests.support import bot_harness
from venskab.cli.common import AppContext
from venskab.serving import live_runtime

CHAT = 4242


fake = bot_harness.fake


async def test_replies_and_scheduled_sends_share_one_bot_and_one_rate_limiter(
    fake: FakeTelegram, db_url: str
) -> None:
    env = {
        "VENSKAB_DATABASE_URL": db_url,
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_URL": fake.url,
    }
    app = AppContext(env=env)
    try:
        bot_app, runtime = live_runtime(app)
        channel = runtime.channels["telegram"]
        assert isinstance(channel, TelegramChannel)
        bot = channel.bot
        assert isinstance(bot, ExtBot)
        assert bot is bot_app.bot
        assert bot.rate_limiter is not None
        assert bot.rate_limiter is bot_app.bot.rate_limiter
        assert not channel.owns_bot  # the bot application closes it, once

        await bot_app.bot.initialize()
        try:
            await bot_app.bot.send_message(CHAT, "Et svar")  # a reply
            await channel.send(OutgoingMessage(to=str(CHAT), body="En planlagt besked"))
        finally:
            await bot_app.bot.shutdown()
        sent = [c for c in fake.calls if c.method == "sendMessage"]
        assert len(sent) == 2
        await runtime.close()
    finally:
        app.close()
