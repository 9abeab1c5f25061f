"""Shared fixtures: the network guard, a migrated database, the named cast, the clock.

Set ``VENSKAB_TEST_DATABASE_URL`` to run the whole suite on PostgreSQL (CI does).
"""

from __future__ import annotations

import _socket
import ipaddress
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from store import clock as store_clock
from store.db import make_engine, make_session_factory, upgrade
from store.models import Base
from tests.support.databases import for_this_worker

# Hypothesis: few examples for `make test` on a laptop; in CI (CI=true) a fixed, derandomized
# set, so a run is repeatable, and bounded, so the fuzzing files stay within a minute. A test's
# own ``@settings`` may ask for fewer. HYPOTHESIS_PROFILE=ci runs CI's examples locally, and
# HYPOTHESIS_PROFILE=explore hunts longer (many more examples; for a developer, not the suite).
_PATIENT = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("default", max_examples=10, **_PATIENT)  # type: ignore[arg-type]
settings.register_profile("ci", derandomize=True, max_examples=25, **_PATIENT)  # type: ignore[arg-type]
settings.register_profile("explore", max_examples=150, **_PATIENT)  # type: ignore[arg-type]
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") == "true" else "default")
)

# The composition root installs the clock and zone rows are stamped with; tests that build no
# AppContext get the wall clock and Denmark's zone.
store_clock.install(lambda: datetime.now(UTC), lambda: "Europe/Copenhagen")


@pytest.fixture(autouse=True)
def _rows_stamped_by_the_wall_clock() -> None:
    """Each test starts with the wall clock installed, whatever an earlier test's app context
    (a module's live server with its clock moved on) installed."""
    store_clock.install(lambda: datetime.now(UTC), lambda: "Europe/Copenhagen")


# -- network guard -----------------------------------------------------------------------------


class LiveNetworkError(BaseException):
    """A test tried to reach a host outside this machine.

    A BaseException, so that no ``except Exception`` in the code under test can swallow it.
    """


def _is_local(host: Any) -> bool:
    if host in (None, "", "localhost"):
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if not isinstance(host, str):
        return False
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return host == "localhost" or host.endswith(".localhost")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check_address(sock: _socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise LiveNetworkError(f"a test tried to connect to {address[0]}:{address[1]}")


def _guarded_connect(self: _socket.socket, address: Any) -> None:
    _check_address(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: _socket.socket, address: Any) -> int:
    _check_address(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local(host):
        raise LiveNetworkError(f"a test tried to look up {host!r}")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _network_guard() -> Iterator[None]:
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


# -- database ----------------------------------------------------------------------------------


def database_url(tmp_dir: Path) -> str:
    """SQLite in the test's folder, or the PostgreSQL database named in the environment (under
    pytest-xdist, a database of this worker's own beside it)."""
    url = os.environ.get("VENSKAB_TEST_DATABASE_URL")
    return for_this_worker(url) if url else f"sqlite:///{tmp_dir / 'test.db'}"


def reset_schema(engine: Engine) -> None:
    """Drop everything (also a previous run's leftovers on PostgreSQL), then migrate to head."""
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(engine)


@pytest.fixture(scope="session")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return database_url(tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    reset_schema(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A migrated database, emptied after each test."""
    yield make_session_factory(engine)
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


# -- time --------------------------------------------------------------------------------------


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def free_port() -> int:
    """A free TCP port on 127.0.0.1, picked before the server starts (aiosmtpd fails on 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
