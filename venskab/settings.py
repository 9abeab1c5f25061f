"""Settings from environment variables, parsed strictly in one place.

Every setting is read here and nowhere else. A secret may also come from a file named by
``NAME_FILE`` (Docker and systemd credentials). A bad value raises :class:`SettingsError`,
which names the variable and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_DATABASE_URL = "sqlite:///./venskab.db"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    timezone: str = "Europe/Copenhagen"
    public_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    telegram_bot_token: str | None = None
    telegram_api_url: str | None = None
    telegram_webhook_secret: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from: str | None = None
    twilio_api_url: str | None = None
    sms_segments_per_second: float = 1.0
    voice_calls_per_second: float = 1.0
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str | None = None
    programmes_dir: Path | None = None
    extra_days_off: tuple[tuple[int, int], ...] = ()
    max_form_bytes: int = 64 * 1024
    max_webhook_bytes: int = 1024 * 1024
    retention_text_months: int = 12
    retention_contact_months: int = 3
    # The language of what staff read on the command line (a language with a catalog).
    language: str = "da"
    # The organisation's own wording: <language>.po catalog overrides and templates/ overrides.
    texts_dir: Path | None = None
    # Catalogs not yet read by a native speaker that the organisation turns on (e.g. "ar").
    languages: tuple[str, ...] = ()

    @property
    def enabled_languages(self) -> tuple[str, ...]:
        """The languages people may be given: every reviewed catalog and those turned on."""
        from scheduler import i18n

        return i18n.enabled_languages(self.languages)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sms_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token and self.twilio_from)

    @property
    def email_configured(self) -> bool:
        return bool(self.smtp_host and self.mail_from)

    @property
    def telegram_configured(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def links_url(self) -> str:
        """Where links in messages point: the public URL, else this server's host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.http_host in ("0.0.0.0", "::", "") else self.http_host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.http_port}"

    @property
    def webhook_mode(self) -> bool:
        """Telegram updates arrive by webhook when a public URL and a secret are set."""
        return bool(self.public_url and self.telegram_webhook_secret)

    def describe_channels(self) -> dict[str, str]:
        """Which channels send for real and which record into the sandbox."""
        return {
            "telegram": "live" if self.telegram_configured else "sandbox",
            "sms": "live" if self.sms_configured else "sandbox",
            "voice": "live" if self.sms_configured else "sandbox",
            "email": "live" if self.email_configured else "sandbox",
        }


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    file_name = env.get(f"{name}_FILE")
    if value not in (None, "") and file_name:
        raise SettingsError(f"{name} and {name}_FILE are both set: choose one")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {file_name!r} ({exc.strerror})") from exc
    if value is None or value.strip() == "":
        return None
    return value.strip()


def _url(name: str, value: str | None, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise SettingsError(
            f"{name}: expected a URL starting with {' or '.join(schemes)}://, got {value!r}"
        )
    return value.rstrip("/")


def _int(name: str, value: str | None, default: int, low: int, high: int) -> int:
    if value is None:
        return default
    if not re.fullmatch(r"\d+", value):
        raise SettingsError(f"{name}: expected a whole number, got {value!r}")
    number = int(value)
    if not low <= number <= high:
        raise SettingsError(f"{name}: expected a number from {low} to {high}, got {number}")
    return number


def _rate(name: str, value: str | None, default: float) -> float:
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number <= 10_000:
        raise SettingsError(f"{name}: expected a number per second above 0, got {value!r}")
    return number


def _bool(name: str, value: str | None, default: bool) -> bool:
    if value is None:
        return default
    lowered = value.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name}: expected true or false, got {value!r}")


def _language(name: str, value: str | None) -> str:
    from scheduler import i18n

    if value is None:
        return "da"
    codes = i18n.enabled_languages()
    if value not in codes:
        raise SettingsError(
            f"{name}: expected one of {', '.join(sorted(codes))} (a language with a reviewed message "
            f"catalog), got {value!r}"
        )
    return value


def _days_off(name: str, value: str | None) -> tuple[tuple[int, int], ...]:
    """Days off every year, as MM-DD separated by commas (e.g. 05-01 for 1 May)."""
    days: list[tuple[int, int]] = []
    for part in (value or "").split(","):
        if not part.strip():
            continue
        found = re.fullmatch(r"(\d{2})-(\d{2})", part.strip())
        try:
            if not found:
                raise ValueError
            month, day = int(found.group(1)), int(found.group(2))
            date(2024, month, day)  # a leap year: 02-29 is a real day
        except ValueError:
            raise SettingsError(
                f"{name}: expected days as MM-DD separated by commas (e.g. 05-01), got {part!r}"
            ) from None
        days.append((month, day))
    return tuple(days)


def _texts_dir(name: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_dir():
        raise SettingsError(f"{name}: {value!r} is not a folder (the organisation's own wording)")
    return path


def _languages(name: str, value: str | None) -> tuple[str, ...]:
    """Language codes separated by commas, each with a message catalog (e.g. ``ar``)."""
    from scheduler import i18n

    known = {lang.code for lang in i18n.languages()}
    codes: list[str] = []
    for part in (value or "").split(","):
        code = part.strip().lower()
        if not code:
            continue
        if code not in known:
            raise SettingsError(
                f"{name}: no message catalog for {part.strip()!r}; the languages with a catalog "
                f"are {', '.join(sorted(known))}"
            )
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and check every setting; raise :class:`SettingsError` on the first bad one."""
    env = os.environ if env is None else env

    database_url = _raw(env, "VENSKAB_DATABASE_URL") or DEFAULT_DATABASE_URL
    if database_url.startswith("postgresql://"):
        # SQLAlchemy 2.1's default PostgreSQL driver is psycopg 3; say so explicitly.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    if not (database_url.startswith("sqlite") or database_url.startswith("postgresql+psycopg://")):
        raise SettingsError(
            "VENSKAB_DATABASE_URL: expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB, "
            f"got a URL starting with {database_url.split(':', 1)[0]!r}"
        )

    timezone = _raw(env, "VENSKAB_TIMEZONE") or "Europe/Copenhagen"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"VENSKAB_TIMEZONE: unknown time zone {timezone!r}") from exc

    smtp_port = _int("SMTP_PORT", _raw(env, "SMTP_PORT"), 587, 1, 65535)
    http_port = _int("VENSKAB_HTTP_PORT", _raw(env, "VENSKAB_HTTP_PORT"), 8000, 0, 65535)

    twilio = {
        "TWILIO_ACCOUNT_SID": _raw(env, "TWILIO_ACCOUNT_SID"),
        "TWILIO_AUTH_TOKEN": _raw(env, "TWILIO_AUTH_TOKEN"),
        "TWILIO_FROM": _raw(env, "TWILIO_FROM"),
    }
    given = [name for name, value in twilio.items() if value]
    if given and len(given) != len(twilio):
        missing = [name for name in twilio if name not in given]
        raise SettingsError(f"{missing[0]}: required when {given[0]} is set (Twilio SMS and voice)")
    sid = twilio["TWILIO_ACCOUNT_SID"]
    if sid and not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
        raise SettingsError("TWILIO_ACCOUNT_SID: expected AC followed by 32 hexadecimal digits")
    twilio_from = twilio["TWILIO_FROM"]
    if twilio_from and not re.fullmatch(
        r"(\+[1-9]\d{6,14}|MG[0-9a-fA-F]{32}|[A-Za-z0-9 ]{1,11})", twilio_from
    ):
        raise SettingsError(
            "TWILIO_FROM: expected an E.164 number (+4512345678), a messaging service SID (MG...) "
            "or an alphanumeric sender of at most 11 characters"
        )

    smtp_host = _raw(env, "SMTP_HOST")
    mail_from = _raw(env, "MAIL_FROM")
    if smtp_host and not mail_from:
        raise SettingsError("MAIL_FROM: required when SMTP_HOST is set")
    if mail_from and "@" not in mail_from:
        raise SettingsError(f"MAIL_FROM: expected an email address, got {mail_from!r}")

    token = _raw(env, "TELEGRAM_BOT_TOKEN")
    if token and not re.fullmatch(r"\d+:[A-Za-z0-9_-]{20,}", token):
        raise SettingsError(
            "TELEGRAM_BOT_TOKEN: expected the form 123456:ABC... given by @BotFather"
        )
    webhook_secret = _raw(env, "TELEGRAM_WEBHOOK_SECRET")
    if webhook_secret and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", webhook_secret):
        raise SettingsError(
            "TELEGRAM_WEBHOOK_SECRET: expected 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )

    programmes_dir = _raw(env, "VENSKAB_PROGRAMMES_DIR")
    extra_days_off = _days_off("VENSKAB_EXTRA_DAYS_OFF", _raw(env, "VENSKAB_EXTRA_DAYS_OFF"))
    max_form = _int(
        "VENSKAB_MAX_FORM_BYTES", _raw(env, "VENSKAB_MAX_FORM_BYTES"), 65536, 1024, 10**7
    )
    max_webhook = _int(
        "VENSKAB_MAX_WEBHOOK_BYTES", _raw(env, "VENSKAB_MAX_WEBHOOK_BYTES"), 1048576, 1024, 10**8
    )

    text_months = _int(
        "VENSKAB_RETENTION_TEXT_MONTHS", _raw(env, "VENSKAB_RETENTION_TEXT_MONTHS"), 12, 1, 120
    )
    contact_months = _int(
        "VENSKAB_RETENTION_CONTACT_MONTHS", _raw(env, "VENSKAB_RETENTION_CONTACT_MONTHS"), 3, 1, 120
    )

    language = _language("VENSKAB_LANGUAGE", _raw(env, "VENSKAB_LANGUAGE"))

    return Settings(
        database_url=database_url,
        timezone=timezone,
        public_url=_url("VENSKAB_PUBLIC_URL", _raw(env, "VENSKAB_PUBLIC_URL")),
        http_host=_raw(env, "VENSKAB_HTTP_HOST") or "127.0.0.1",
        http_port=http_port,
        telegram_bot_token=token,
        telegram_api_url=_url("TELEGRAM_API_URL", _raw(env, "TELEGRAM_API_URL")),
        telegram_webhook_secret=webhook_secret,
        twilio_account_sid=sid,
        twilio_auth_token=twilio["TWILIO_AUTH_TOKEN"],
        twilio_from=twilio_from,
        twilio_api_url=_url("TWILIO_API_URL", _raw(env, "TWILIO_API_URL")),
        # Twilio sends 1 segment a second per long code; a messaging service or a short code
        # takes more (the dispatcher's SMS and voice lanes pace to these).
        sms_segments_per_second=_rate(
            "VENSKAB_SMS_SEGMENTS_PER_SECOND", _raw(env, "VENSKAB_SMS_SEGMENTS_PER_SECOND"), 1.0
        ),
        voice_calls_per_second=_rate(
            "VENSKAB_VOICE_CALLS_PER_SECOND", _raw(env, "VENSKAB_VOICE_CALLS_PER_SECOND"), 1.0
        ),
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_username=_raw(env, "SMTP_USERNAME"),
        smtp_password=_raw(env, "SMTP_PASSWORD"),
        smtp_starttls=_bool("SMTP_STARTTLS", _raw(env, "SMTP_STARTTLS"), True),
        mail_from=mail_from,
        programmes_dir=Path(programmes_dir) if programmes_dir else None,
        extra_days_off=extra_days_off,
        max_form_bytes=max_form,
        max_webhook_bytes=max_webhook,
        retention_text_months=text_months,
        retention_contact_months=contact_months,
        language=language,
        texts_dir=_texts_dir("VENSKAB_TEXTS_DIR", _raw(env, "VENSKAB_TEXTS_DIR")),
        languages=_languages("VENSKAB_LANGUAGES", _raw(env, "VENSKAB_LANGUAGES")),
    )
