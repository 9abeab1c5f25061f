"""``venskab tick`` as an operator's cron runs it: the whole process, start-up included, on a
database of N active matches in steady state (everything planned, nothing new due). Prints a
table, asserts nothing.

    .venv/bin/python bench/tick.py                    # 1,000 matches on a fresh SQLite file
    .venv/bin/python bench/tick.py --matches 200 --runs 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import NOW, fresh, synthesize  # noqa: E402
from store import clock as store_clock  # noqa: E402

VENSKAB = [sys.executable, "-c", "from venskab.entry import main; main()"]


def run_tick(url: str, now: str) -> tuple[float, str]:
    env = {**os.environ, "VENSKAB_DATABASE_URL": url}
    for name in ("VENSKAB_TWILIO_ACCOUNT_SID", "VENSKAB_TELEGRAM_BOT_TOKEN", "VENSKAB_SMTP_HOST"):
        env.pop(name, None)  # every channel in the sandbox: no provider is timed
    began = time.perf_counter()
    done = subprocess.run(
        [*VENSKAB, "tick", "--now", now],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return time.perf_counter() - began, done.stdout.strip()


def startup() -> float:
    """The process alone: the interpreter and ``venskab --help``."""
    began = time.perf_counter()
    subprocess.run([*VENSKAB, "--help"], capture_output=True, check=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--matches", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    store_clock.install(lambda: datetime.now(UTC), lambda: "Europe/Copenhagen")
    url = args.db or f"sqlite:///{tempfile.mkdtemp(prefix='venskab-tick-')}/tick.db"
    engine, factory = fresh(url)
    synthesize(factory, args.matches)
    engine.dispose()
    now = NOW.strftime("%Y-%m-%dT%H:%M")
    first, _ = run_tick(url, now)  # plans everything and sends what is due
    run_tick(url, now)  # and whatever the first one's sends led to
    steady = [run_tick(url, now)[0] for _ in range(args.runs)]
    start = statistics.median(startup() for _ in range(3))
    print(f"\nvenskab tick on {args.matches} matches ({'PostgreSQL' if args.db else 'SQLite'})\n")
    print("| what | time | target |")
    print("|---|---|---|")
    print(f"| first tick (plans everything, sends what is due) | {first:.2f} s | |")
    print(
        f"| steady-state tick, median of {args.runs} (min {min(steady):.2f}, max {max(steady):.2f})"
        f" | {statistics.median(steady):.2f} s | < 1 s |"
    )
    print(f"| of which process start-up (`venskab --help`) | {start:.2f} s | |")


if __name__ == "__main__":
    main()
