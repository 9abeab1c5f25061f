"""The long-running process (``venskab run``): one asyncio process that runs everything.

- an APScheduler ``AsyncIOScheduler`` that only *wakes things up* (plan, dispatch); the durable
  truth is in our tables, never in a job store;
- uvicorn serving the Starlette app (webhooks, survey pages, the sandbox outbox);
- the Telegram bot, when a token is configured (polling, or webhook through the web app);
- :class:`venskab.urgent.UrgentNews`, which queues and sends an alert the moment urgent news (a worry, a
  parent's message, a failure of the bot) is committed, instead of at the next tick.

Replies and scheduled sends share one Telegram ``Bot`` and with it one rate limiter: the
Telegram channel sends through the bot application's own ``ExtBot`` when the bot runs. Database
work runs in worker threads, so nothing holds up the event loop for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from venskab.cli.common import AppContext

if TYPE_CHECKING:
    pass

from venskab.runtime import (
    DISPATCH_EVERY,
    Runtime,
    freeze_startup_heap,
    quiet_third_party_loggers,
    sandbox_runtime,
)

log = logging.getLogger("venskab")


def _banner(
    app: AppContext,
    runtime: Runtime,
    seeded: bool,
    logins: Sequence[tuple[str, str, str]] = (),
) -> str:
    settings = app.settings
    url = settings.links_url
    database = settings.database_url
    if "@" in database:  # never print a password
        scheme, rest = database.split("://", 1)
        database = f"{scheme}://…@{rest.split('@', 1)[1]}"
    lines = [
        "venskab is running.",
        f"  database   {database}" + ("  (demo data seeded just now)" if seeded else ""),
        f"  programmes {', '.join(sorted(app.programmes))}",
    ]
    for name, mode in settings.describe_channels().items():
        note = (
            "records messages in the outbox, sends nothing"
            if mode == "sandbox"
            else "sends for real"
        )
        lines.append(f"  {name:<10} {mode}: {note}")
    lines.append(f"  web        {url}/  (the staff web app: sign in to see today, matches, outbox)")
    for username, password, role in logins:
        lines.append(f"  demo login {username}  password {password}  ({role}; new at every start)")
    if app.services.sandbox is not None:
        lines.append(
            f"  sandbox    {url}/sandbox  (chat as a volunteer family, inbox, move the clock)"
        )
    lines.append("  year plan  .venv/bin/venskab plan 1   (and: venskab match list)")
    lines.append("Stop with Ctrl+C.")
    return "\n".join(lines)


async def _seed_demo(app: AppContext) -> bool:
    """Demo data in an empty database, with its past replayed; whether it was seeded."""
    from venskab.demo import replay, seed_if_empty

    seeded = await asyncio.to_thread(seed_if_empty, app, datetime.now(UTC))
    if seeded:
        print("Seeding demo data and replaying its past through the sandbox…", flush=True)
        await replay(app, datetime.now(UTC), Runtime)
    return seeded


def start_ticks(runtime: Runtime, lock: asyncio.Lock | None = None) -> Any:
    """An APScheduler that wakes the runtime every ``DISPATCH_EVERY`` (first at once).
    ``lock`` is shared with the sandbox's clock, which ticks too when it moves."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    lock = lock or asyncio.Lock()

    async def wake() -> None:
        # Overlapping wake-ups would only contend for the same rows: skip instead of queueing.
        if lock.locked():
            return
        async with lock:
            try:
                result = await runtime.tick(runtime.app.now())
                if result.dispatch.claimed or result.plan.added:
                    log.info(result.describe().replace("\n", "; "))
            except Exception:
                log.exception("tick failed; will try again")

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        wake,
        "interval",
        seconds=DISPATCH_EVERY.total_seconds(),
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )

    async def nightly() -> None:
        try:
            log.info(await asyncio.to_thread(runtime.retention, runtime.app.now()))
        except Exception:
            log.exception("retention failed; will try again tomorrow night")

    # Retention runs nightly at 03:15 in the organisation's zone.
    scheduler.add_job(
        nightly,
        "cron",
        hour=3,
        minute=15,
        timezone=runtime.app.settings.zone,
        id="retention",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def live_runtime(app: AppContext) -> tuple[Any, Runtime]:
    """The bot application (None without a Telegram token) and the runtime that sends with that
    application's own ``Bot``: one Telegram Bot, and one rate limiter, for replies and scheduled
    sends alike."""
    bot_app: Any = None
    if app.settings.telegram_configured:
        from bot.app import build_application

        bot_app = build_application(app.services)
    return bot_app, Runtime(app, telegram_bot=bot_app.bot if bot_app is not None else None)


async def serve(app: AppContext, seed_demo: bool = True) -> None:
    """Run until interrupted."""
    import uvicorn

    from web.app import create_app

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    quiet_third_party_loggers()
    settings = app.settings
    await asyncio.to_thread(app.upgrade)
    seeded = seed_demo and settings.is_sqlite and await _seed_demo(app)
    logins: list[tuple[str, str, str]] = []
    if seed_demo and settings.is_sqlite:
        from venskab.demo import demo_logins

        logins = await asyncio.to_thread(demo_logins, app, datetime.now(UTC))

    sandbox_bot: Any = None
    lock = asyncio.Lock()
    bot_app, runtime = live_runtime(app)
    if bot_app is not None:
        from bot.app import start_bot, stop_bot
    from venskab.sandbox import restore_offset, sandbox_active, start_sandbox

    if bot_app is None and sandbox_active(app):
        # The embedded default: the real bot over a Bot API answered in process, for the
        # sandbox's "chat as the volunteer family"; its clock can be moved (venskab.sandbox).
        from bot.sandbox import SandboxBot

        await asyncio.to_thread(restore_offset, app)
        sandbox_bot = SandboxBot(app.services)
        runtime = sandbox_runtime(app, sandbox_bot)
        await start_sandbox(app, runtime, sandbox_bot, lock)
    await asyncio.to_thread(runtime.sync)

    extra: list[Any] = []
    if bot_app is not None:
        from bot.webhook import telegram_route

        extra.append(telegram_route(app.services, bot_app))
    web = create_app(app.services, extra_routes=extra)
    config = uvicorn.Config(
        web, host=settings.http_host, port=settings.http_port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    scheduler = start_ticks(runtime, lock)
    from venskab.urgent import UrgentNews

    urgent = UrgentNews(runtime, app.now)
    urgent.start()

    if bot_app is not None:
        await start_bot(bot_app, settings)  # by webhook when configured, else long polling
    freeze_startup_heap()

    try:
        # uvicorn handles SIGINT/SIGTERM (and re-raises them once it has stopped serving).
        serving = asyncio.create_task(server.serve())
        # Say "running" only once the port is really open: someone may open the page at once.
        while not server.started and not serving.done():
            await asyncio.sleep(0.05)
        if server.started:
            print(_banner(app, runtime, seeded, logins), flush=True)
        await serving
    finally:
        scheduler.shutdown(wait=False)
        await urgent.stop()
        await runtime.drain()  # messages in flight are recorded, none is left in doubt
        if bot_app is not None:
            await stop_bot(bot_app)
        if sandbox_bot is not None:
            await sandbox_bot.stop()
        await runtime.close()
        print("venskab stopped.", flush=True)
