"""The bot benchmark runs (tiny) and prints its table. Numbers are reported, never asserted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_bot_benchmark_smoke_run_prints_latencies_and_throughput() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VENSKAB_", "TELEGRAM_"))}
    result = subprocess.run(
        [sys.executable, "bench/bot_updates.py", "--smoke"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    for line in (
        "visit button",
        "stranger",
        "forged button",
        "/next",
        "all",
        "throughput",
        "updates per CPU second",
    ):
        assert line in result.stdout
