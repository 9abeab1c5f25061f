"""The delivery benchmark runs (at a small size) and prints its table. It asserts no timings:
numbers are reported, never tested."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.databases import own_database, worker_suffix

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_the_benchmark_smoke_run_prints_every_measurement(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VENSKAB_")}
    database = os.environ.get("VENSKAB_TEST_DATABASE_URL")
    if database:
        # The benchmark drops and recreates every table: never in the suite's own database.
        database = own_database(database, f"venskab_bench{worker_suffix()}")
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
