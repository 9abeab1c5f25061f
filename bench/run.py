"""Delivery engine benchmark: prints a table, asserts nothing.

    .venv/bin/python bench/run.py                     # full size on a fresh SQLite file
    .venv/bin/python bench/run.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/run.py --smoke             # tiny sizes (CI runs this)
    .venv/bin/python bench/run.py --scale 0.1         # a tenth of the sizes, on a busy machine

What it measures, each on a fresh schema:
- one planning pass over N synthetic active matches (and the steady-state pass after it);
- draining M due messages through the sandbox channel (dispatch overhead: claim, render,
  record);
- draining messages through the fake Twilio server over HTTP, and the achieved rate under a
  provider rate limit;
- a simulated year for K matches with daily ticks;
- the naive alternative: one APScheduler date job per message in ``SQLAlchemyJobStore``;
- the worst event-loop stall while a planning pass and a drain run at once in one event loop,
  with bot updates handled meanwhile (a probe sleeps 10 ms over and over and records how late
  it wakes);
- peak memory (max RSS of this process).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, func, insert, make_url, select  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from followup.escalations import raise_escalation  # noqa: E402
from followup.hooks import engine_hooks  # noqa: E402
from followup.matches import sync_programmes  # noqa: E402
from scheduler.channels.sandbox import SandboxChannel  # noqa: E402
from scheduler.dispatcher import Dispatcher  # noqa: E402
from scheduler.planner import plan_all  # noqa: E402
from scheduler.programme import PROGRAMMES_DIR, load_all  # noqa: E402
from store import clock as store_clock  # noqa: E402
from store.db import make_engine, make_session_factory, upgrade  # noqa: E402
from store.models import (  # noqa: E402
    Base,
    Child,
    ContactPerson,
    Match,
    OutboxMessage,
    Staff,
    VolunteerFamily,
    match_contact,
)
from venskab.cli.common import AppContext  # noqa: E402
from venskab.runtime import freeze_startup_heap  # noqa: E402

PROGRAMMES = load_all(PROGRAMMES_DIR)
NOW = datetime(2026, 9, 1, 10, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fresh(url: str) -> tuple[Engine, sessionmaker[Session]]:
    engine = make_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    upgrade(engine)
    return engine, make_session_factory(engine)


def sibling(url: str, number: int) -> str:
    """``url`` with its database renamed ``<name>_<number>``, created on the server if missing."""
    base = make_url(url)
    name = f"{base.database}_{number}"
    admin = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        if not connection.exec_driver_sql(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).scalar():
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def synthesize(factory: sessionmaker[Session], n: int, start: date | None = None) -> None:
    """N active matches spread over the three programmes and a year of start dates."""
    now = datetime.now(UTC)
    with factory.begin() as session:
        rows = sync_programmes(session, PROGRAMMES.values())
        slugs = sorted(rows)
        session.execute(
            insert(Staff),
            [
                {
                    "id": i,
                    "name": f"Staff {i}",
                    "email": f"staff{i}@example.org",
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(1, 21)
            ],
        )
        for base in range(0, n, 5000):
            ids = range(base + 1, min(base + 5000, n) + 1)
            common = {"created_at": now, "updated_at": now}
            session.execute(
                insert(VolunteerFamily),
                [
                    {
                        "id": i,
                        "name": f"Familie {i}",
                        "contact_name": "Kontaktvoksen",
                        "phone": f"+4520{100000 + i % 800000:06d}",
                        "telegram_chat_id": 10_000 + i if i % 3 else None,
                        "email": f"f{i}@example.org",
                        **common,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(Child),
                [{"id": i, "first_name": "Barn", "birth_year": 2016, **common} for i in ids],
            )
            session.execute(
                insert(ContactPerson),
                [
                    {
                        "id": i,
                        "name": "Forælder",
                        "phone": f"+4520{100000 + i % 800000:06d}",
                        **common,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(Match),
                [
                    {
                        "id": i,
                        "programme_id": rows[slugs[i % 3]].id,
                        "child_id": i,
                        "volunteer_family_id": i,
                        "staff_id": 1 + i % 20,
                        "start_date": start or (NOW.date() - timedelta(days=i % 330)),
                        "visit_weekday": i % 7,
                        "cadence": PROGRAMMES[slugs[i % 3]].cadence.value,
                        "status": "active",
                        "created_at": datetime(2025, 1, 1, tzinfo=UTC),
                        "updated_at": now,
                        "plan_version": 1,
                        "planned_version": 0,
                    }
                    for i in ids
                ],
            )
            session.execute(
                insert(match_contact), [{"match_id": i, "contact_person_id": i} for i in ids]
            )
    analyze(factory)


def analyze(factory: sessionmaker[Session]) -> None:
    """Statistics for bulk-loaded rows, as PostgreSQL's autovacuum gathers them within a minute
    of an import with default settings (a server with autovacuum off would plan the queries on
    these tables blind). SQLite keeps none unless asked, and venskab does not ask."""
    engine = factory.kw["bind"]
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("ANALYZE")


def due_messages(
    factory: sessionmaker[Session], m: int, matches: int, channel: str = "sms"
) -> None:
    with factory.begin() as session:
        for base in range(0, m, 5000):
            session.execute(
                insert(OutboxMessage),
                [
                    {
                        "idempotency_key": f"bench:{i}",
                        "match_id": 1 + i % matches,
                        "touchpoint_id": "welcome",
                        "occurrence_key": "1",
                        "kind": "message",
                        "template": "welcome",
                        "audience": "volunteer_family",
                        "recipient_id": 1 + i % matches,
                        "channel": channel,
                        "locale": "da",
                        "essential": True,
                        "due_at": NOW - timedelta(minutes=5),
                        "status": "planned",
                        "plan_version": 1,
                        "context": {"reminder": 0},
                        "created_at": NOW,
                        "updated_at": NOW,
                    }
                    for i in range(base, min(base + 5000, m))
                ],
            )
    analyze(factory)


def drain(dispatcher: Dispatcher) -> Any:
    """Dispatch everything due, then close the channels, in one event loop."""

    async def run() -> Any:
        try:
            return await dispatcher.run_once(NOW)
        finally:
            for channel in dispatcher.channels.values():
                await channel.close()

    return asyncio.run(run())


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def sandbox_dispatcher(factory: sessionmaker[Session], batch: int = 500) -> Dispatcher:
    channels = {n: SandboxChannel(n) for n in ("sms", "email", "telegram", "voice")}
    return Dispatcher(
        factory,
        PROGRAMMES,
        channels,
        sandbox=frozenset(channels),
        batch_size=batch,
        secret="bench",
        public_url="https://venskab.example.org",
        hooks=engine_hooks(PROGRAMMES, "https://venskab.example.org"),
    )


# -- the measurements ----------------------------------------------------------------------------


def bench_planning(url: str, n: int, rows: list[list[str]]) -> None:
    engine, factory = fresh(url)
    synthesize(factory, n)
    seconds, _ = timed(lambda: plan_all(engine, factory, PROGRAMMES, NOW, report=raise_escalation))
    with factory() as session:
        planned = session.scalar(select(func.count()).select_from(OutboxMessage))
    rows.append(
        [
            f"planning pass, {n:,} matches",
            f"{seconds:.1f} s",
            f"{n / seconds:,.0f} matches/s, {planned:,} messages planned",
            "< 30 s at 100,000",
        ]
    )
    seconds, _ = timed(
        lambda: plan_all(
            engine, factory, PROGRAMMES, NOW + timedelta(minutes=5), report=raise_escalation
        )
    )
    rows.append([f"steady-state pass, {n:,} matches", f"{seconds:.1f} s", "nothing to re-plan", ""])
    engine.dispose()


def bench_drain_sandbox(url: str, m: int, rows: list[list[str]]) -> None:
    engine, factory = fresh(url)
    matches = min(m, 1000)
    synthesize(factory, matches)
    due_messages(factory, m, matches)
    dispatcher = sandbox_dispatcher(factory)
    seconds, stats = timed(lambda: drain(dispatcher))
    rows.append(
        [
            f"drain {m:,} due messages, sandbox",
            f"{seconds:.1f} s",
            f"{stats.sent / seconds:,.0f} messages/s ({stats.sent:,} sent)",
            ">= 1,000 messages/s",
        ]
    )
    engine.dispose()


def bench_drain_http(
    url: str, m: int, rate: float, rate_seconds: float, rows: list[list[str]]
) -> None:
    from scheduler.channels.sms import SmsChannel
    from tests.fakes.twilio import FakeTwilio

    sid, token = "AC" + "b" * 32, "bench-token"
    engine, factory = fresh(url)
    matches = min(m, 1000)
    synthesize(factory, matches)
    due_messages(factory, m, matches)
    with FakeTwilio(token, account_sid=sid) as fake:
        channels: dict[str, Any] = {
            "sms": SmsChannel(
                sid, token, "+4520123400", api_url=fake.url, segments_per_second=10_000
            )
        }
        dispatcher = Dispatcher(
            factory,
            PROGRAMMES,
            channels,
            batch_size=500,
            concurrency=32,
            secret="bench",
            hooks=engine_hooks(PROGRAMMES, None),
        )
        seconds, stats = timed(lambda: drain(dispatcher))
        rows.append(
            [
                f"drain {m:,} messages, fake Twilio over HTTP",
                f"{seconds:.1f} s",
                f"{stats.sent / seconds:,.0f} messages/s ({stats.sent:,} sent)",
                "",
            ]
        )
        # Under a provider limit (segments per second): how close does the achieved rate come?
        limited = int(rate * rate_seconds / 2)  # the welcome SMS is two segments
        with factory.begin() as session:
            session.query(OutboxMessage).delete()
        due_messages(factory, limited, matches)
        channels = {
            "sms": SmsChannel(sid, token, "+4520123400", api_url=fake.url, segments_per_second=rate)
        }
        dispatcher = Dispatcher(
            factory,
            PROGRAMMES,
            channels,
            batch_size=100,
            concurrency=8,
            secret="bench",
            hooks=engine_hooks(PROGRAMMES, None),
        )
        drain(dispatcher)
        with factory() as session:
            segments = session.scalar(select(func.sum(OutboxMessage.segments))) or 0
        # Measured where the provider sees it: from the first request to the last, plus one slot.
        times = sorted(r.received_at for r in fake.messages[-limited:])
        span = times[-1] - times[0] + 2 / rate
        achieved = segments / span
        rows.append(
            [
                f"{limited:,} two-segment SMS at a limit of {rate:g} segments/s",
                f"{span:.1f} s",
                f"{achieved:.1f} segments/s = {100 * achieved / rate:.0f} % of the limit",
                ">= 95 %",
            ]
        )
    engine.dispose()


def bench_year(url: str, k: int, rows: list[list[str]]) -> None:
    engine, factory = fresh(url)
    synthesize(factory, k, start=date(2026, 1, 5))
    with factory.begin() as session:
        session.query(Match).update({Match.created_at: datetime(2026, 1, 1, tzinfo=UTC)})
    dispatcher = sandbox_dispatcher(factory)

    async def year() -> int:
        sent = 0
        day = datetime(2026, 1, 5, 17, tzinfo=UTC)
        for _ in range(365):
            await asyncio.to_thread(
                functools.partial(plan_all, report=raise_escalation),
                engine,
                factory,
                PROGRAMMES,
                day,
            )
            sent += (await dispatcher.run_once(day)).sent
            day += timedelta(days=1)
        return sent

    seconds, sent = timed(lambda: asyncio.run(year()))
    rows.append(
        [
            f"a simulated year, {k:,} matches, daily ticks",
            f"{seconds:.1f} s",
            f"{seconds / 365 * 1000:.0f} ms per tick, {sent:,} messages",
            "",
        ]
    )
    engine.dispose()


# -- the event loop under load -------------------------------------------------------------------


class LoopProbe:
    """How late the event loop wakes a coroutine that sleeps ``interval`` over and over.

    ``worst`` is the longest the loop was kept from running it: work done on the loop itself
    (work in worker threads only costs a share of the CPU and the GIL). Use as ``async with``.
    """

    def __init__(self, interval: float = 0.010) -> None:
        self.interval = interval
        self.worst = 0.0
        self.wakeups = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            self.worst = max(self.worst, time.perf_counter() - before - self.interval)
            self.wakeups += 1

    async def __aenter__(self) -> LoopProbe:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)  # let it take its first step
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@dataclass
class LoopLoad:
    """What ran while the probe watched, and the worst stall it saw."""

    matches: int
    planned: int
    sent: int
    bot_updates: int
    bot_p99_ms: float
    seconds: float
    worst_stall: float
    wakeups: int


def loop_under_load(
    plan_url: str,
    drain_url: str,
    bot_url: str,
    n: int,
    m: int,
    families: int = 20,
    updates: int = 200,
    every: float = 0.02,
) -> LoopLoad:
    """In one process and one event loop, at once: a planning pass over ``n`` never-planned
    matches (in a worker thread, as ``Runtime.tick`` runs it), a drain of ``m`` due messages
    through the sandbox (the dispatcher's sending on the loop, its database work in threads)
    and the real bot application handling updates one after another until both are done.
    Each on its own fresh database; setting them up is not measured."""
    from bench.bot_updates import local_bot

    plan_engine, plan_factory = fresh(plan_url)
    synthesize(plan_factory, n)
    drain_engine, drain_factory = fresh(drain_url)
    synthesize(drain_factory, min(m, 1000))
    due_messages(drain_factory, m, min(m, 1000))
    dispatcher = sandbox_dispatcher(drain_factory)

    async def run() -> LoopLoad:
        bot_app, application, _, work = await local_bot(bot_url, families, updates)
        freeze_startup_heap()  # as ``venskab run`` does once it has started
        latencies: list[float] = []
        started = time.perf_counter()
        async with LoopProbe() as probe:
            planning = asyncio.create_task(
                asyncio.to_thread(
                    functools.partial(plan_all, report=raise_escalation),
                    plan_engine,
                    plan_factory,
                    PROGRAMMES,
                    NOW,
                )
            )
            draining = asyncio.create_task(dispatcher.run_once(NOW))
            for _, update in itertools.cycle(work):
                if planning.done() and draining.done():
                    break
                before = time.perf_counter()
                await application.process_update(update)
                latencies.append(time.perf_counter() - before)
                await asyncio.sleep(every)  # the next update arrives
            stats = await draining
            await planning
            seconds = time.perf_counter() - started
        await application.shutdown()
        bot_app.close()
        for channel in dispatcher.channels.values():
            await channel.close()
        with plan_factory() as session:
            planned = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        latencies.sort()
        return LoopLoad(
            matches=n,
            planned=planned,
            sent=stats.sent,
            bot_updates=len(latencies),
            bot_p99_ms=1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
            seconds=seconds,
            worst_stall=probe.worst,
            wakeups=probe.wakeups,
        )

    try:
        return asyncio.run(run())
    finally:
        gc.unfreeze()
        plan_engine.dispose()
        drain_engine.dispose()


def bench_event_loop(urls: Callable[[], str], n: int, m: int, rows: list[list[str]]) -> None:
    load = loop_under_load(urls(), urls(), urls(), n, m)
    rows.append(
        [
            f"worst event-loop stall: planning {n:,} matches + draining {m:,} at once",
            f"{load.worst_stall * 1000:.0f} ms",
            f"{load.seconds:.1f} s, {load.planned:,} planned, {load.sent:,} sent, "
            f"{load.bot_updates:,} bot updates (p99 {load.bot_p99_ms:.0f} ms)",
            "< 100 ms",
        ]
    )


def bench_apscheduler(url: str, m: int, rows: list[list[str]]) -> None:
    """The naive alternative: one APScheduler date job per message in SQLAlchemyJobStore."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS apscheduler_jobs")
    fired: list[int] = []
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine)},
        timezone=UTC,
        job_defaults={"misfire_grace_time": None, "coalesce": False},
    )
    scheduler.start(paused=True)
    run_at = datetime.now(UTC) - timedelta(seconds=1)
    started = time.perf_counter()
    for i in range(m):
        scheduler.add_job(_noop, "date", run_date=run_at, args=[i], id=f"msg-{i}")
    add_seconds = time.perf_counter() - started
    counter_start = time.perf_counter()
    global FIRED
    FIRED = fired
    scheduler.resume()
    deadline = time.perf_counter() + 600
    while len(fired) < m and time.perf_counter() < deadline:
        time.sleep(0.05)
    run_seconds = time.perf_counter() - counter_start
    scheduler.shutdown(wait=False)
    rows.append(
        [
            f"APScheduler: add {m:,} date jobs (SQLAlchemyJobStore)",
            f"{add_seconds:.1f} s",
            f"{m / add_seconds:,.0f} jobs/s",
            "naive alternative",
        ]
    )
    rows.append(
        [
            f"APScheduler: run {m:,} due jobs (no sending)",
            f"{run_seconds:.1f} s",
            f"{len(fired) / run_seconds:,.0f} jobs/s",
            "naive alternative",
        ]
    )
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS apscheduler_jobs")
    engine.dispose()


FIRED: list[int] = []


def _noop(i: int) -> None:
    FIRED.append(i)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file in a temp dir)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="the full sizes times this (0.1: a tenth) for a busy machine; not the event-loop check",
    )
    args = parser.parse_args()
    # The composition root's job, done here: rows are stamped by its clock, in the set zone.
    root = AppContext()
    store_clock.install(root.now, lambda: root.settings.timezone)
    tmp = tempfile.mkdtemp(prefix="venskab-bench-")
    files = itertools.count(1)

    def database() -> str:
        """The database for one measurement: on SQLite a new file each time, as a new
        installation has (a file whose tables were dropped keeps their pages scattered)."""
        return args.db or f"sqlite:///{tmp}/bench-{next(files)}.db"

    def separate() -> str:
        """A database of its own, for the event-loop check's three at once: on PostgreSQL the
        given one's siblings ``<name>_1``, ``<name>_2``, ... (created when missing), else a
        new SQLite file."""
        server = (args.db or "").startswith("postgresql")
        return (
            sibling(args.db, next(files)) if server else f"sqlite:///{tmp}/bench-{next(files)}.db"
        )

    if args.smoke:
        plans, drain, http, rate, rate_s, year, naive = [200], 500, 300, 20.0, 2.0, 20, 300
        loop = (200, 500)
    else:

        def scaled(n: int) -> int:
            return max(1, round(n * args.scale))

        plans, drain, http, rate, rate_s, year, naive = (
            [scaled(10_000), scaled(100_000)],
            scaled(100_000),
            scaled(10_000),
            50.0,
            20.0,
            scaled(1_000),
            scaled(10_000),
        )
        loop = (10_000, 10_000)
    rows: list[list[str]] = []
    for n in plans:
        bench_planning(database(), n, rows)
    bench_drain_sandbox(database(), drain, rows)
    bench_drain_http(database(), http, rate, rate_s, rows)
    bench_year(database(), year, rows)
    bench_apscheduler(database(), naive, rows)
    rows.append(
        ["peak memory (max RSS of the benchmark process)", f"{peak_mb():.0f} MB", "", "< 500 MB"]
    )
    # Last, as it holds a planning pass and a drain in memory at once.
    bench_event_loop(separate, *loop, rows)
    rows.append(["peak memory, with the event-loop check", f"{peak_mb():.0f} MB", "", "< 500 MB"])
    name = "PostgreSQL" if (args.db or "").startswith("postgresql") else "SQLite"
    size = "smoke" if args.smoke else "full" if args.scale == 1 else f"{args.scale:g} of full"
    print(f"\nvenskab delivery benchmark on {name} ({size} size)\n")
    headers = ["what", "time", "rate", "target"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
