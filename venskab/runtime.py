"""The runtime: one planning pass and one dispatch of the outbox (a tick), the channels they send
through, and the urgent news that wakes the dispatcher at once. The process that runs it all
(web, bot, ticks) is :mod:`venskab.serving`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from followup.escalations import raise_escalation
from followup.hooks import engine_hooks
from followup.matches import sync_programmes
from scheduler.channels.base import Channel
from scheduler.dispatcher import Dispatcher, DispatchStats
from scheduler.planner import PlanStats, plan_all
from venskab.cli.common import AppContext

if TYPE_CHECKING:
    from telegram import Bot

    from bot.sandbox import SandboxBot

log = logging.getLogger("venskab")

DISPATCH_EVERY = timedelta(seconds=15)


def freeze_startup_heap() -> None:
    """Take what start-up allocated (modules, programmes, templates, the ORM's mappers) out of
    the cyclic garbage collector's sight.

    A full collection walks every tracked object while holding the GIL, so it stops the event
    loop too, whichever thread triggered it: with the start-up heap in view that took 50-100 ms
    on a small machine, several times a minute while planning. Frozen objects are still freed
    by reference counting; only cycles among them are never collected.
    """
    gc.collect()
    gc.freeze()


# Loggers of libraries that log personal data (twilio logs every request URL, with the phone
# number in its query) or chatter at INFO: WARNING and above only.
NOISY_LOGGERS = ("apscheduler", "alembic", "httpx", "telegram.ext", "twilio", "aiosmtplib")


def quiet_third_party_loggers() -> None:
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def build_channels(
    app: AppContext, telegram_bot: Bot | None = None
) -> tuple[dict[str, Channel], frozenset[str]]:
    """Live channels where credentials are set; the sandbox (records, sends nothing) elsewhere.

    ``telegram_bot`` is the running bot application's ``Bot`` (with its rate limiter): scheduled
    messages then go through it, and its shutdown is the application's. Without one (the command
    line's ``tick``, the demo replay) the channel makes its own bot and shuts it down on close.
    """
    from scheduler.channels.sandbox import SandboxChannel

    settings = app.settings
    channels: dict[str, Channel] = {}
    sandbox: set[str] = set()
    if settings.sms_configured:
        from scheduler.channels.sms import SmsChannel
        from scheduler.channels.voice import VoiceChannel

        assert settings.twilio_account_sid and settings.twilio_auth_token and settings.twilio_from
        channels["sms"] = SmsChannel(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            api_url=settings.twilio_api_url,
            segments_per_second=None,  # the dispatcher's SMS lane paces
        )
        channels["voice"] = VoiceChannel(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            settings.twilio_from,
            api_url=settings.twilio_api_url,
        )
    if settings.email_configured:
        from scheduler.channels.email import EmailChannel

        assert settings.smtp_host and settings.mail_from
        channels["email"] = EmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            settings.mail_from,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            clock=app.now,
        )
    if telegram_bot is not None:
        from scheduler.channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(telegram_bot)
    elif settings.telegram_configured:
        from scheduler.channels.telegram import TelegramChannel, make_bot

        assert settings.telegram_bot_token
        channels["telegram"] = TelegramChannel(
            make_bot(settings.telegram_bot_token, settings.telegram_api_url), owns_bot=True
        )
    for name in ("sms", "voice", "email", "telegram"):
        if name not in channels:
            channels[name] = SandboxChannel(name)
            sandbox.add(name)
    return channels, frozenset(sandbox)


WAITING_EVERY = timedelta(minutes=10)


@dataclass
class TickResult:
    plan: PlanStats
    dispatch: DispatchStats
    escalations: int = 0

    def describe(self) -> str:
        p, d = self.plan, self.dispatch
        if p.locked_out:
            planned = "planning: another replica holds the planner lock"
        else:
            planned = (
                f"planned {p.matches} matches: {p.added} messages added, {p.updated} moved, "
                f"{p.cancelled} cancelled; {p.tasks_added} tasks added, {p.tasks_cancelled} cancelled"
            )
        sent = (
            f"dispatched {d.claimed}: {d.sent} sent, {d.retried} to retry, {d.failed} failed, "
            f"{d.expired} expired, {d.cancelled} cancelled, {d.deferred} deferred to allowed hours, "
            f"{d.unknown} in doubt"
        )
        watched = f"escalations with news: {self.escalations}"
        return f"{planned}\n{watched}\n{sent}"


@dataclass
class Runtime:
    app: AppContext
    channels: dict[str, Channel] = field(default_factory=dict)
    sandbox: frozenset[str] = frozenset()
    # The bot application's Bot, when the bot runs in this process (see build_channels).
    telegram_bot: Bot | None = None
    _dispatcher: Dispatcher | None = None
    _synced: bool = False
    _ticking: int = 0
    _waiting_at: datetime | None = None  # the last waiting-list pass (see waiting_list)

    def __post_init__(self) -> None:
        if not self.channels:
            self.channels, self.sandbox = build_channels(self.app, self.telegram_bot)

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            from bot.buttons import buttons_for  # visit-prompt answers, sparring RSVPs

            self._dispatcher = Dispatcher(
                self.app.session_factory,
                self.app.programmes,
                self.channels,
                sandbox=self.sandbox,
                public_url=self.app.settings.links_url,
                buttons=buttons_for,
                rates={  # a sandbox records at once, unpaced
                    name: rate
                    for name, rate in (
                        ("sms", self.app.settings.sms_segments_per_second),
                        ("voice", self.app.settings.voice_calls_per_second),
                    )
                    if name not in self.sandbox
                },
                hooks=engine_hooks(self.app.programmes, self.app.settings.links_url),
            )
        return self._dispatcher

    def sync(self) -> None:
        if not self._synced:
            with self.app.transaction() as session:
                sync_programmes(session, self.app.programmes.values())
            self._synced = True

    def plan(self, now: datetime, horizon_days: int = 14) -> PlanStats:
        self.sync()
        return plan_all(
            self.app.engine,
            self.app.session_factory,
            self.app.programmes,
            now,
            horizon=timedelta(days=horizon_days),
            report=raise_escalation,
        )

    async def dispatch(self, now: datetime) -> DispatchStats:
        return await self.dispatcher.run_once(now)

    def follow_up(self, now: datetime) -> int:
        """Staff follow-up: watch rules, alerts and re-escalation, the daily digest.
        Returns how many escalations got news."""
        from followup import alerts, digest, watch

        with self.app.transaction() as session:
            news = watch.evaluate(session, self.app.programmes, now)
            alerts.notify(session, now, self.app.programmes, self.app.settings.timezone)
            digest.plan_digests(session, now)
        return news

    def queue_alerts(self, now: datetime) -> int:
        """Only the alerts the escalation policy says are due now (no rules, no digest)."""
        from followup import alerts

        with self.app.transaction() as session:
            return alerts.notify(session, now, self.app.programmes, self.app.settings.timezone)

    async def alert_now(self, now: datetime) -> DispatchStats:
        """Queue the alerts that are due and send what is due: urgent news, at once."""
        await asyncio.to_thread(self.queue_alerts, now)
        return await self.dispatch(now)

    def survey_ladder(self, now: datetime) -> int:
        """The survey reminder ladder's last step: a staff call task for each survey still
        unanswered when its call is due. Returns how many tasks were created."""
        from followup import survey_calls as followup

        return followup.run(self.app.session_factory, self.app.programmes, now).tasks

    def waiting_list(self, now: datetime, horizon_days: int = 14) -> int:
        """Notes to the families and children waiting for a match, and the waiting and
        certificate tasks (:mod:`followup.waiting`). Returns how many rows were added.

        Notes are planned days ahead and tasks are due by the day, so a pass every
        :data:`WAITING_EVERY` is enough: the ticks between skip it."""
        from followup.waiting import plan_waiting

        last = self._waiting_at
        if last is not None and last <= now < last + WAITING_EVERY:
            return 0

        with self.app.transaction() as session:
            stats = plan_waiting(
                session,
                self.app.programmes,
                now,
                self.app.settings.zone,
                timedelta(days=horizon_days),
            )
        self._waiting_at = now
        return stats.notes + stats.tasks

    def sparring_reminders(self, now: datetime) -> int:
        """The day-before reminder, with the meeting link, to families who said yes."""
        from followup.sparring import plan_reminders

        with self.app.transaction() as session:
            return plan_reminders(session, self.app.programmes, now)

    def retention(self, now: datetime) -> str:
        """The nightly retention run (:mod:`followup.retention`)."""
        from followup.retention import run_retention
        from followup.survey_defs import default_surveys
        from venskab.cli.data import retention_policy

        today = now.astimezone(self.app.settings.zone).date()
        with self.app.transaction() as session:
            report = run_retention(
                session, now, today, default_surveys(), retention_policy(self.app.settings)
            )
        return report.describe()

    async def tick(self, now: datetime, horizon_days: int = 14) -> TickResult:
        self._ticking += 1
        try:
            plan = await asyncio.to_thread(self.plan, now, horizon_days)
            await asyncio.to_thread(self.waiting_list, now, horizon_days)
            await asyncio.to_thread(self.sparring_reminders, now)
            await asyncio.to_thread(self.survey_ladder, now)
            news = await asyncio.to_thread(self.follow_up, now)
            dispatch = await self.dispatch(now)
            return TickResult(plan, dispatch, news)
        finally:
            self._ticking -= 1

    def stop(self) -> None:
        """Stop claiming messages (SIGTERM); a tick under way finishes what is in flight."""
        self.dispatcher.stop()

    async def drain(self, timeout: float = 60.0) -> None:
        """Stop, then wait (up to ``timeout`` seconds) for a tick under way to finish."""
        self.stop()
        deadline = asyncio.get_running_loop().time() + timeout
        while self._ticking and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()


def sandbox_runtime(app: AppContext, bot: SandboxBot) -> Runtime:
    """A runtime whose Telegram channel is the sandbox's bot (:mod:`bot.sandbox`): scheduled
    messages reach the sandbox chats, and are recorded as sandbox sends like the others."""
    runtime = Runtime(app, telegram_bot=bot.application.bot)
    runtime.sandbox = runtime.sandbox | {"telegram"}
    return runtime
