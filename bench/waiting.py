"""The waiting-list pass (``followup.waiting.plan_waiting``) on a database of N waiting volunteer
families, N referred children and N households of two (one with certificates to renew), as the
runtime runs it (at most every ten minutes): the first pass, which plans the notes and tasks,
and a steady-state pass, which finds them planned and inserts nothing. Prints a table, asserts
nothing.

    .venv/bin/python bench/waiting.py                 # 1,000 of each on a fresh SQLite file
    .venv/bin/python bench/waiting.py --parties 5000 --db postgresql+psycopg://...
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, insert, select  # noqa: E402

from bench.run import fresh  # noqa: E402
from followup.matches import sync_programmes  # noqa: E402
from followup.waiting import plan_waiting  # noqa: E402
from scheduler.programme import load_all  # noqa: E402
from store import clock as store_clock  # noqa: E402
from store.models import (  # noqa: E402
    Child,
    ContactPerson,
    HouseholdMember,
    OutboxMessage,
    Referral,
    Staff,
    StaffRole,
    Task,
    VolunteerFamily,
    WaitStatus,
)

NOW = datetime(2026, 6, 1, 7, 0, tzinfo=UTC)
ZONE = ZoneInfo("Europe/Copenhagen")


def seed(factory: object, n: int) -> None:
    programmes = load_all()
    with factory.begin() as session:  # type: ignore[attr-defined]
        rows = sync_programmes(session, programmes.values())
        programme = rows["hjem-til-os"].id
        session.add(Staff(name="Koordinator", role=StaffRole.COORDINATOR, email="k@example.org"))
        stamp = datetime.now(UTC)
        since = [date(2026, 1, 5) + timedelta(days=i % 120) for i in range(n)]
        session.execute(
            insert(VolunteerFamily),
            [
                {
                    "id": i + 1,
                    "name": f"Venskabsfamilie {i}",
                    "contact_name": "Kontaktvoksen",
                    "phone": f"+4520{i:06d}",
                    "region": "Hovedstaden",
                    "status": WaitStatus.WAITING,
                    "status_since": since[i],
                    "programme_id": programme,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(n)
            ],
        )
        session.execute(
            insert(HouseholdMember),
            [
                {
                    "volunteer_family_id": i // 2 + 1,
                    "first_name": "Voksen" if i % 2 == 0 else "Ung",
                    "birth_year": 1980 if i % 2 == 0 else 2011,
                    "child_certificate_on": date(2024, 7, 1) if i % 2 == 0 else None,
                    "criminal_record_on": date(2024, 7, 1) if i % 2 == 0 else None,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(2 * n)
            ],
        )
        session.execute(
            insert(Child),
            [
                {
                    "id": i + 1,
                    "first_name": "Barn",
                    "birth_year": 2017,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(n)
            ],
        )
        session.execute(
            insert(ContactPerson),
            [
                {
                    "id": i + 1,
                    "name": "Forælder",
                    "phone": f"+4530{i:06d}",
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(n)
            ],
        )
        session.execute(
            insert(Referral),
            [
                {
                    "programme_id": programme,
                    "child_id": i + 1,
                    "contact_person_id": i + 1,
                    "region": "Hovedstaden",
                    "status": WaitStatus.WAITING,
                    "status_since": since[i],
                    "created_at": stamp,
                    "updated_at": stamp,
                }
                for i in range(n)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parties", type=int, default=1000)
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    store_clock.install(lambda: NOW, lambda: "Europe/Copenhagen")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'waiting.db'}"
        _engine, factory = fresh(url)
        seed(factory, args.parties)
        programmes = load_all()
        print(f"waiting-list pass, {args.parties:,} families, referrals and households of two")
        print(f"{'pass':<14} {'seconds':>8} {'notes':>7} {'tasks':>7}")
        for name in ("first", "steady state"):
            with factory.begin() as session:
                began = time.perf_counter()
                stats = plan_waiting(session, programmes, NOW, ZONE)
                seconds = time.perf_counter() - began
            print(f"{name:<14} {seconds:>8.2f} {stats.notes:>7,} {stats.tasks:>7,}")
        with factory() as session:
            rows = session.scalar(select(func.count()).select_from(OutboxMessage))
            tasks = session.scalar(select(func.count()).select_from(Task))
        print(f"outbox rows {rows:,}, tasks {tasks:,}")


if __name__ == "__main__":
    main()
