"""``venskab doctor``: check the configuration and say what to fix.

Each check prints one line: ``ok``, ``skip`` (a channel that is not configured, and so sandboxed)
or ``FAIL`` with what to do. The calls to providers are harmless authenticated reads: Twilio's
message list (one row), Telegram's ``getMe`` and ``getWebhookInfo``, an SMTP login without
sending. The clock is compared with the ``Date`` of the providers' answers, or, when no provider
answered, with the database server's ``now()`` (a server of its own: SQLite shares this
machine's clock, and then the clock cannot be checked, which fails). No programmes is a
failure too. Exit status 0 only when every check holds; 1 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import aiosmtplib
import click
import httpx
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.app import WEBHOOK_PATH
from store.db import alembic_config
from venskab.cli.common import AppContext, UserError, pass_app
from venskab.settings import Settings

TIMEOUT = 10.0
CLOCK_SKEW = timedelta(seconds=30)


@dataclass
class Findings:
    lines: list[tuple[str, str, str]] = field(default_factory=list)
    provider_dates: list[tuple[str, datetime]] = field(default_factory=list)

    def ok(self, check: str, detail: str = "") -> None:
        self.lines.append(("ok", check, detail))

    def fail(self, check: str, fix: str) -> None:
        self.lines.append(("FAIL", check, fix))

    def skip(self, check: str, why: str) -> None:
        self.lines.append(("skip", check, why))

    @property
    def failed(self) -> bool:
        return any(status == "FAIL" for status, _, _ in self.lines)

    def date_from(self, provider: str, response: httpx.Response) -> None:
        header = response.headers.get("date")
        if header:
            with contextlib.suppress(TypeError, ValueError):
                self.provider_dates.append((provider, parsedate_to_datetime(header)))


def register(group: click.Group) -> None:
    group.add_command(doctor)


@click.command()
@pass_app
def doctor(app: AppContext) -> None:
    """Check the configuration, the providers' credentials, the database and the programmes."""
    try:
        settings = app.settings
    except UserError as exc:
        click.echo(f"FAIL  settings: {exc.format_message()}")
        raise SystemExit(1) from exc
    found = Findings()
    checks: list[Callable[[AppContext, Settings, Findings], None]] = [
        _public_url,
        _webhook_secrets,
        _database,
        _programmes,
        _twilio,
        _telegram,
        _smtp,
        _clock,
    ]
    for check in checks:
        check(app, settings, found)
    for status, check_name, detail in found.lines:
        click.echo(f"{status:<5} {check_name}" + (f": {detail}" if detail else ""))
    if found.failed:
        click.echo("venskab doctor: fix the lines marked FAIL, then run it again")
        raise SystemExit(1)
    click.echo("venskab doctor: everything checked holds")


def _public_url(app: AppContext, settings: Settings, found: Findings) -> None:
    url = settings.public_url
    if not url:
        found.fail(
            "public URL",
            "set VENSKAB_PUBLIC_URL to the https:// address the web side is reached at "
            "(webhooks and survey links need it)",
        )
    elif not url.startswith("https://"):
        found.fail("public URL", f"{url} is not https: providers and parents must reach it by TLS")
    else:
        found.ok("public URL", url)


def _webhook_secrets(app: AppContext, settings: Settings, found: Findings) -> None:
    if settings.telegram_configured and not settings.telegram_webhook_secret:
        found.fail(
            "Telegram webhook secret",
            "set TELEGRAM_WEBHOOK_SECRET (1-256 characters of A-Z, a-z, 0-9, _ and -)",
        )
    elif settings.telegram_configured:
        found.ok("Telegram webhook secret", "set")
    else:
        found.skip("Telegram webhook secret", "Telegram is not configured")
    if settings.sms_configured:
        found.ok("Twilio webhook signatures", "checked with TWILIO_AUTH_TOKEN")
    else:
        found.skip("Twilio webhook signatures", "Twilio is not configured")


def _database(app: AppContext, settings: Settings, found: Findings) -> None:
    try:
        with app.engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
        heads = set(ScriptDirectory.from_config(alembic_config(app.engine)).get_heads())
    except SQLAlchemyError as exc:
        found.fail("database", f"cannot connect ({type(exc).__name__}); check VENSKAB_DATABASE_URL")
        return
    if current != heads:
        found.fail(
            "database migrations",
            f"at {', '.join(sorted(current)) or 'none'}, the code needs "
            f"{', '.join(sorted(heads))}: run `venskab db upgrade`",
        )
    else:
        found.ok("database", f"reachable, migrations current ({', '.join(sorted(heads))})")


def _programmes(app: AppContext, settings: Settings, found: Findings) -> None:
    try:
        programmes = app.programmes
    except UserError as exc:
        found.fail("programmes", exc.format_message())
        return
    if not programmes:
        where = settings.programmes_dir or "programmes/"
        found.fail(
            "programmes",
            f"no programme files (*.yaml) in {where}: set VENSKAB_PROGRAMMES_DIR to the "
            "directory that holds them (the repository's programmes/ is an example)",
        )
        return
    found.ok("programmes", ", ".join(sorted(programmes)))


def _twilio(app: AppContext, settings: Settings, found: Findings) -> None:
    if not settings.sms_configured:
        found.skip("Twilio", "not configured: SMS and voice are sandboxed")
        return
    base = (settings.twilio_api_url or "https://api.twilio.com").rstrip("/")
    sid, token = settings.twilio_account_sid or "", settings.twilio_auth_token or ""
    try:
        response = httpx.get(
            f"{base}/2010-04-01/Accounts/{sid}/Messages.json",
            params={"PageSize": 1},
            auth=(sid, token),
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        found.fail("Twilio", f"cannot reach {base} ({type(exc).__name__})")
        return
    found.date_from("Twilio", response)
    if response.status_code in (401, 403):
        found.fail("Twilio", "the credentials were refused: check TWILIO_ACCOUNT_SID and TOKEN")
    elif response.status_code != 200:
        found.fail("Twilio", f"unexpected answer {response.status_code} from {base}")
    else:
        found.ok("Twilio", "credentials accepted")


def _telegram(app: AppContext, settings: Settings, found: Findings) -> None:
    if not settings.telegram_configured:
        found.skip("Telegram", "not configured: Telegram is sandboxed")
        return
    base = (settings.telegram_api_url or "https://api.telegram.org").rstrip("/")
    bot = f"{base}/bot{settings.telegram_bot_token}"
    try:
        me = httpx.get(f"{bot}/getMe", timeout=TIMEOUT)
        found.date_from("Telegram", me)
        if me.status_code != 200 or not me.json().get("ok"):
            found.fail("Telegram", "the bot token was refused: check TELEGRAM_BOT_TOKEN")
            return
        info = httpx.get(f"{bot}/getWebhookInfo", timeout=TIMEOUT).json().get("result") or {}
    except (httpx.HTTPError, ValueError) as exc:
        found.fail("Telegram", f"cannot reach {base} ({type(exc).__name__})")
        return
    found.ok("Telegram", f"token valid (@{me.json()['result'].get('username', '?')})")
    registered = info.get("url") or ""
    if settings.webhook_mode:
        wanted = f"{settings.public_url}{WEBHOOK_PATH}"
        if registered != wanted:
            found.fail(
                "Telegram webhook",
                f"registered at {registered or 'nothing'}, configured {wanted}: "
                "start `venskab run` once to register it",
            )
        else:
            found.ok("Telegram webhook", f"registered at {wanted}")
    elif registered:
        found.fail(
            "Telegram webhook",
            f"a webhook is registered at {registered} but this configuration polls: "
            "set TELEGRAM_WEBHOOK_SECRET and VENSKAB_PUBLIC_URL, or start `venskab run` to remove it",
        )
    else:
        found.ok("Telegram webhook", "none registered; updates are polled")


def _smtp(app: AppContext, settings: Settings, found: Findings) -> None:
    if not settings.email_configured:
        found.skip("SMTP", "not configured: email is sandboxed")
        return

    async def login() -> None:
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            start_tls=settings.smtp_starttls,
            timeout=TIMEOUT,
        )
        await client.connect()
        try:
            if settings.smtp_username:
                await client.login(settings.smtp_username, settings.smtp_password or "")
            await client.noop()
        finally:
            await client.quit()

    try:
        asyncio.run(login())
    except aiosmtplib.SMTPAuthenticationError:
        found.fail("SMTP", "the login was refused: check SMTP_USERNAME and SMTP_PASSWORD")
    except (aiosmtplib.SMTPException, OSError) as exc:
        found.fail(
            "SMTP",
            f"cannot talk to {settings.smtp_host}:{settings.smtp_port} ({type(exc).__name__}); "
            "check SMTP_HOST, SMTP_PORT and SMTP_STARTTLS",
        )
    else:
        found.ok("SMTP", "login accepted" if settings.smtp_username else "server answers")


def _database_time(app: AppContext) -> datetime | None:
    """The database server's clock, when it is a server of its own (not SQLite, which is this
    machine's clock); None when it cannot tell."""
    if app.engine.dialect.name == "sqlite":
        return None
    try:
        with app.engine.connect() as connection:
            theirs = connection.scalar(select(func.now()))
    except SQLAlchemyError:
        return None
    if not isinstance(theirs, datetime) or theirs.tzinfo is None:
        return None
    return theirs


def _clock(app: AppContext, settings: Settings, found: Findings) -> None:
    if found.provider_dates:
        provider, theirs = found.provider_dates[0]
        source = f"{provider}'s"
    elif (server := _database_time(app)) is not None:
        source, theirs = "the database server's", server
    else:
        found.fail(
            "clock",
            "not checked: no provider answered and the database is on this machine; "
            "configure Twilio or Telegram (their answers carry the time) or use PostgreSQL, "
            "and keep this machine's clock synchronised (NTP)",
        )
        return
    now = datetime.now(UTC)
    skew = abs(now - theirs)
    if skew > CLOCK_SKEW:
        found.fail(
            "clock",
            f"{int(skew.total_seconds())} s away from {source}: "
            "synchronise this machine's clock (NTP)",
        )
    else:
        found.ok("clock", f"within {int(CLOCK_SKEW.total_seconds())} s of {source}")
