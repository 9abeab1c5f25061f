"""The delivery benchmark runs (at a small size) and prints its table. It asserts no timings:
numbers are reported, never tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def own_database(url: str, name: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    target = make_url(url).set(database=name)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return target.render_as_string(hide_password=False)


def test_the_benchmark_smoke_run_prints_every_measurement(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENSKAB_")}
    database = os.environ.get("VENSKAB_TEST_DATABASE_URL")
    if database:
        # The benchmark drops and recreates every table: never in the suite's own database.
        database = own_database(database, "venskab_bench")
    args = [sys.executable, "bench/run.py", "--smoke"] + (["--db", database] if database else [])
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    table = result.stdout
    for row in (
        "planning pass, 200 matches",
        "drain 500 due messages, sandbox",
        "fake Twilio over HTTP",
        "segments/s",
        "a simulated year",
        "APScheduler: add",
        "worst event-loop stall",
        "peak memory",
    ):
        assert row in table, table
