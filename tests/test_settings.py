"""Settings: strict parsing, one readable error naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from venskab.cli import main
from venskab.cli.common import AppContext
from venskab.settings import SettingsError, load_settings


def test_the_embedded_default_needs_no_settings() -> None:
    settings = load_settings({})
    assert settings.database_url == "sqlite:///./venskab.db"
    assert settings.timezone == "Europe/Copenhagen"
    assert settings.http_port == 8000
    assert set(settings.describe_channels().values()) == {"sandbox"}


BAD = [
    ({"VENSKAB_HTTP_PORT": "eighty"}, "VENSKAB_HTTP_PORT: expected a whole number"),
    ({"VENSKAB_HTTP_PORT": "70000"}, "VENSKAB_HTTP_PORT: expected a number from 0 to 65535"),
    ({"VENSKAB_TIMEZONE": "Europe/Aarhus"}, "VENSKAB_TIMEZONE: unknown time zone"),
    ({"VENSKAB_DATABASE_URL": "mysql://x/y"}, "VENSKAB_DATABASE_URL: expected sqlite"),
    ({"VENSKAB_PUBLIC_URL": "venskab.example.org"}, "VENSKAB_PUBLIC_URL: expected a URL"),
    (
        {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32},
        "TWILIO_AUTH_TOKEN: required when TWILIO_ACCOUNT_SID is set",
    ),
    ({"SMTP_HOST": "mail.example.org"}, "MAIL_FROM: required when SMTP_HOST is set"),
    ({"SMTP_STARTTLS": "maybe"}, "SMTP_STARTTLS: expected true or false"),
    ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN: expected the form"),
    ({"VENSKAB_EXTRA_DAYS_OFF": "1 May"}, "VENSKAB_EXTRA_DAYS_OFF: expected days as MM-DD"),
    ({"VENSKAB_EXTRA_DAYS_OFF": "02-30"}, "VENSKAB_EXTRA_DAYS_OFF: expected days as MM-DD"),
]


def test_extra_days_off_are_read_as_month_and_day() -> None:
    settings = load_settings({"VENSKAB_EXTRA_DAYS_OFF": "05-01, 02-29"})
    assert settings.extra_days_off == ((5, 1), (2, 29))


@pytest.mark.parametrize(
    ("env", "message"), BAD, ids=[m.split(":")[0] + " " + m.split(": ")[1][:20] for _, m in BAD]
)
def test_a_bad_setting_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(")):
        load_settings(env)


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ\n")
    settings = load_settings({"TELEGRAM_BOT_TOKEN_FILE": str(secret)})
    assert settings.telegram_bot_token == "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    assert settings.describe_channels()["telegram"] == "live"


def test_a_missing_secret_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="SMTP_PASSWORD_FILE: cannot read"):
        load_settings({"SMTP_PASSWORD_FILE": str(tmp_path / "missing")})


def test_a_plain_postgresql_url_uses_psycopg_3() -> None:
    settings = load_settings({"VENSKAB_DATABASE_URL": "postgresql://postgres@127.0.0.1/test"})
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_a_bad_setting_stops_a_command_with_exit_status_2() -> None:
    result = CliRunner().invoke(
        main, ["match", "list"], obj=AppContext(env={"VENSKAB_HTTP_PORT": "x"})
    )
    assert result.exit_code == 2
    assert "VENSKAB_HTTP_PORT" in result.output


def test_links_point_at_the_public_url_or_else_this_server_s_host_and_port() -> None:
    assert load_settings({}).links_url == "http://127.0.0.1:8000"
    assert load_settings({"VENSKAB_HTTP_PORT": "8123"}).links_url == "http://127.0.0.1:8123"
    assert (
        load_settings({"VENSKAB_HTTP_HOST": "0.0.0.0", "VENSKAB_HTTP_PORT": "9000"}).links_url
        == "http://127.0.0.1:9000"
    )
    public = {"VENSKAB_PUBLIC_URL": "https://venskab.example.org/", "VENSKAB_HTTP_PORT": "8123"}
    assert load_settings(public).links_url == "https://venskab.example.org"


async def test_a_staff_alert_links_to_the_configured_port(
    db_url: str,
    session_factory: sessionmaker[Session],  # a migrated database, emptied after
) -> None:
    """Without VENSKAB_PUBLIC_URL the acknowledge link names the port the server listens on."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from followup.escalations import raise_escalation
    from store.models import OutboxMessage, Severity
    from tests.support.cast import make_match
    from venskab.runtime import Runtime

    now = datetime(2026, 4, 14, 9, tzinfo=UTC)
    app = AppContext(
        env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_HTTP_PORT": "8123"}, now_override=now
    )
    with app.transaction() as session:
        match = make_match(session)
        raise_escalation(
            session, match, "worry", now=now, evidence={"ref": "w1"}, severity=Severity.URGENT
        )
    runtime = Runtime(app)
    await runtime.tick(now)
    await runtime.close()
    with app.transaction() as session:
        bodies = [
            r.body or ""
            for r in session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "alert"))
        ]
    app.close()
    assert bodies and all("http://127.0.0.1:8123/ack/" in b for b in bodies), bodies
