"""Staff messages over the demo year: how many each staff member gets a week, by kind.

    .venv/bin/python bench/demo_year.py              # the demo as `make run` seeds and replays it
    .venv/bin/python bench/demo_year.py --idle       # the same year with staff who never react

Seeds the demo (``venskab.demo``) on a fresh SQLite database as of ``--now``, replays its past
through the real planner and dispatcher with sandbox channels (the demo staff acting on their
cases as diligent staff do, unless ``--idle``), then counts the messages the outbox sent to each
staff member per week (Monday to Sunday, Copenhagen time, every week of the year, also the
quiet ones): the median and the maximum, by kind. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from store.models import Audience, Match, OutboxMessage, OutboxStatus, Staff  # noqa: E402
from venskab.cli.common import AppContext  # noqa: E402
from venskab.demo import replay, seed  # noqa: E402
from venskab.runtime import Runtime  # noqa: E402

ZONE = ZoneInfo("Europe/Copenhagen")
DEFAULT_NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def count(app: AppContext, now: datetime) -> tuple[list[str], dict[str, dict[str, list[int]]]]:
    """Staff names, and per staff member and kind the number of messages in each week."""
    with app.transaction() as session:
        first = session.scalar(select(func.min(Match.created_at)))
        staff = {s.id: s.name for s in session.scalars(select(Staff).order_by(Staff.id))}
        sent = session.execute(
            select(OutboxMessage.recipient_id, OutboxMessage.kind, OutboxMessage.sent_at).where(
                OutboxMessage.audience == Audience.STAFF,
                OutboxMessage.status.in_([OutboxStatus.SENT, OutboxStatus.DELIVERED]),
            )
        ).all()
    assert first is not None
    weeks = []
    week = _monday(first.astimezone(ZONE).date())
    while week <= now.astimezone(ZONE).date():
        weeks.append(week)
        week += timedelta(days=7)
    tally: Counter[tuple[int, str, date]] = Counter()
    for recipient, kind, at in sent:
        tally[(recipient, kind, _monday((at or now).astimezone(ZONE).date()))] += 1
    kinds = sorted({kind for _, kind, _ in sent})
    result: dict[str, dict[str, list[int]]] = {}
    for staff_id, name in staff.items():
        per_kind = {kind: [tally[(staff_id, kind, w)] for w in weeks] for kind in kinds}
        per_kind["all"] = [sum(tally[(staff_id, kind, w)] for kind in kinds) for w in weeks]
        result[name] = per_kind
    return [*staff.values()], result


async def build(database: str, now: datetime, idle: bool) -> AppContext:
    app = AppContext(env={"VENSKAB_DATABASE_URL": database})
    app.upgrade()
    await asyncio.to_thread(seed, app, now)
    await replay(app, now, Runtime, staff_act=not idle)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--now", default=DEFAULT_NOW.isoformat(), help="the demo's today")
    parser.add_argument("--idle", action="store_true", help="staff who never react")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        app = asyncio.run(build(f"sqlite:///{Path(tmp) / 'demo.db'}", now, args.idle))
        names, table = count(app, now)
        app.close()
    weeks = len(next(iter(next(iter(table.values())).values()), []))
    who = "staff who never react" if args.idle else "diligent demo staff"
    print(
        f"demo year to {now.date()}: {weeks} weeks, {who} "
        f"(seeded and replayed in {time.perf_counter() - started:.0f} s)"
    )
    print(f"{'staff member':<22}{'kind':<10}{'total':>7}{'median/wk':>11}{'max/wk':>8}")
    for name in names:
        for kind, values in table[name].items():
            print(
                f"{name:<22}{kind:<10}{sum(values):>7}"
                f"{statistics.median(values):>11g}{max(values):>8}"
            )


if __name__ == "__main__":
    main()
