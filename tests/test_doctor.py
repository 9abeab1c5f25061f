"""``venskab doctor`` against the fake Twilio and Telegram servers and a real SMTP server
(aiosmtpd) on 127.0.0.1: exit 0 only when every check holds, and a line saying what to fix."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from tests.conftest import free_port
from tests.fakes.telegram import DEFAULT_TOKEN, FakeTelegram
from tests.fakes.twilio import FakeTwilio
from venskab.cli import main
from venskab.cli.common import AppContext

PUBLIC = "https://venskab.example.org"
SID = "AC" + "2" * 32
TOKEN = "twilio-doctor-token"
SECRET = "doctor-webhook-secret"


class Accept:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, data: Any
) -> AuthResult:
    given = (data.login, data.password) if isinstance(data, LoginPassword) else None
    ok = given in ((b"venskab", b"rigtigt"), ("venskab", "rigtigt"))
    return AuthResult(success=ok, handled=False)  # on failure the server answers 535


@pytest.fixture
def smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(
        Accept(),
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def servers() -> Iterator[tuple[FakeTwilio, FakeTelegram]]:
    with FakeTwilio(TOKEN, account_sid=SID) as twilio, FakeTelegram() as telegram:
        yield twilio, telegram


def env(
    db_url: str, twilio: FakeTwilio, telegram: FakeTelegram, smtp: int, **changes: str
) -> dict[str, str]:
    values = {
        "VENSKAB_DATABASE_URL": db_url,
        "VENSKAB_PUBLIC_URL": PUBLIC,
        "TELEGRAM_BOT_TOKEN": DEFAULT_TOKEN,
        "TELEGRAM_API_URL": telegram.url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TWILIO_ACCOUNT_SID": SID,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_FROM": "+4520123400",
        "TWILIO_API_URL": twilio.url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp),
        "SMTP_USERNAME": "venskab",
        "SMTP_PASSWORD": "rigtigt",
        "SMTP_STARTTLS": "false",
        "MAIL_FROM": "noreply@example.org",
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v}


def doctor(values: dict[str, str]) -> Result:
    app = AppContext(env=values)
    try:
        return CliRunner().invoke(main, ["doctor"], obj=app)
    finally:
        app.close()


def lines(result: Result) -> dict[str, str]:
    found = {}
    for line in result.output.splitlines()[:-1]:
        status, _, rest = line.partition(" ")
        check = rest.strip().split(":", 1)[0]
        found[check] = status
    return found


def test_a_good_configuration_passes_every_check(
    engine: Engine, db_url: str, servers: tuple[FakeTwilio, FakeTelegram], smtp: int
) -> None:
    twilio, telegram = servers
    telegram.webhook_url = f"{PUBLIC}/telegram/webhook"
    result = doctor(env(db_url, twilio, telegram, smtp))
    assert result.exit_code == 0, result.output
    assert set(lines(result).values()) == {"ok"}, result.output
    assert "Twilio: credentials accepted" in result.output
    assert "SMTP: login accepted" in result.output
    assert "clock: within 30 s of Twilio's" in result.output
    assert result.output.splitlines()[-1] == "venskab doctor: everything checked holds"
    assert twilio.violations == []


def test_each_problem_is_a_fail_line_saying_what_to_fix_and_exit_1(
    engine: Engine, db_url: str, servers: tuple[FakeTwilio, FakeTelegram], smtp: int
) -> None:
    twilio, telegram = servers  # no webhook registered
    result = doctor(
        env(
            db_url,
            twilio,
            telegram,
            smtp,
            VENSKAB_PUBLIC_URL="http://venskab.example.org",
            TWILIO_AUTH_TOKEN="wrong-token",
            SMTP_PASSWORD="forkert",
        )
    )
    assert result.exit_code == 1, result.output
    found = lines(result)
    for check in ("public URL", "Twilio", "SMTP", "Telegram webhook"):
        assert found[check] == "FAIL", (check, result.output)
    assert found["database"] == "ok" and found["programmes"] == "ok" and found["Telegram"] == "ok"
    assert "is not https" in result.output
    assert "check TWILIO_ACCOUNT_SID" in result.output
    assert "check SMTP_USERNAME and SMTP_PASSWORD" in result.output
    assert "start `venskab run` once to register it" in result.output
    for secret in ("wrong-token", "forkert", DEFAULT_TOKEN):
        assert secret not in result.output


def test_a_database_without_the_migrations_and_missing_settings_fail(
    engine: Engine, tmp_path: Path, servers: tuple[FakeTwilio, FakeTelegram], smtp: int
) -> None:
    twilio, telegram = servers
    result = doctor(
        env(
            f"sqlite:///{tmp_path / 'empty.db'}",
            twilio,
            telegram,
            smtp,
            VENSKAB_PUBLIC_URL="",
            TELEGRAM_WEBHOOK_SECRET="",
        )
    )
    assert result.exit_code == 1
    found = lines(result)
    assert found["database migrations"] == "FAIL" and "venskab db upgrade" in result.output
    assert found["public URL"] == "FAIL" and found["Telegram webhook secret"] == "FAIL"


def test_an_unconfigured_channel_is_skipped_not_failed(engine: Engine, db_url: str) -> None:
    result = doctor({"VENSKAB_DATABASE_URL": db_url, "VENSKAB_PUBLIC_URL": PUBLIC})
    found = lines(result)
    assert found["Twilio"] == found["Telegram"] == found["SMTP"] == "skip", result.output
    assert found["programmes"] == found["database"] == "ok"
    if engine.dialect.name == "sqlite":
        assert result.exit_code == 1  # the clock could not be checked: see below
    else:
        assert result.exit_code == 0, result.output


def test_a_clock_nothing_could_check_fails_and_says_what_to_fix(
    engine: Engine, db_url: str
) -> None:
    # No provider answered: the database server's clock is the other source; SQLite has none.
    result = doctor({"VENSKAB_DATABASE_URL": db_url, "VENSKAB_PUBLIC_URL": PUBLIC})
    clock = next(line for line in result.output.splitlines() if " clock" in line)
    if engine.dialect.name == "sqlite":
        assert result.exit_code == 1
        assert clock.startswith("FAIL  clock: not checked")
        assert "configure Twilio or Telegram" in clock and "NTP" in clock
        assert result.output.splitlines()[-1].startswith("venskab doctor: fix the lines")
    else:
        assert clock == "ok    clock: within 30 s of the database server's"


def test_a_clock_far_from_the_providers_fails(
    engine: Engine,
    db_url: str,
    servers: tuple[FakeTwilio, FakeTelegram],
    smtp: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    twilio, telegram = servers
    telegram.webhook_url = f"{PUBLIC}/telegram/webhook"
    monkeypatch.setattr(
        "venskab.cli.doctor.parsedate_to_datetime",
        lambda header: datetime(2020, 1, 1, tzinfo=UTC),
    )
    result = doctor(env(db_url, twilio, telegram, smtp))
    assert result.exit_code == 1
    assert "synchronise this machine's clock (NTP)" in result.output


@pytest.mark.parametrize("programmes", ["empty", "missing"])
def test_no_programmes_is_a_failure(
    engine: Engine, db_url: str, tmp_path: Path, programmes: str
) -> None:
    directory = tmp_path / "programmes"
    if programmes == "empty":
        directory.mkdir()
    result = doctor(
        {
            "VENSKAB_DATABASE_URL": db_url,
            "VENSKAB_PUBLIC_URL": PUBLIC,
            "VENSKAB_PROGRAMMES_DIR": str(directory),
        }
    )
    assert result.exit_code == 1
    assert lines(result)["programmes"] == "FAIL"
    assert f"no programme files (*.yaml) in {directory}" in result.output
    assert "set VENSKAB_PROGRAMMES_DIR" in result.output


def test_a_bad_telegram_token_is_refused(
    engine: Engine, db_url: str, servers: tuple[FakeTwilio, FakeTelegram], smtp: int
) -> None:
    twilio, telegram = servers
    result = doctor(env(db_url, twilio, telegram, smtp, TELEGRAM_BOT_TOKEN="123:" + "x" * 30))
    assert result.exit_code == 1
    assert "the bot token was refused" in result.output
