"""Telegram bot benchmark: updates per second through ``Application.process_update``.

    .venv/bin/python bench/bot_updates.py                  # 200 families, 6000 updates, SQLite
    .venv/bin/python bench/bot_updates.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/bot_updates.py --smoke          # tiny sizes

The real application from ``bot.app.build_application`` (every handler, our database
persistence written after every update, the database queries) handles a realistic mix of
updates from linked families and strangers. Only the Bot API is replaced, by an in-process
request object that answers at once, so the numbers are the bot's own cost: handler logic and
database, not Telegram's network. Updates are handled one at a time, as PTB does by default;
each handler's database work runs in a worker thread, off the event loop, so the process uses
about one CPU core; ``--core N`` pins it. Besides wall-clock throughput it prints updates per
CPU second (of all the process's threads), which other processes on the machine do not distort.
Then it measures worry-to-staff latency (see ``bench/worry_latency.py``): a family's worry
pressed after a stranger's flood, with Telegram's rate limits on, until the staff member's alert
is handed to the Bot API; it prints p50 and p99. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402

from bot.app import build_application  # noqa: E402
from bot.context import BotApplication  # noqa: E402
from followup.matches import sync_programmes  # noqa: E402
from store.db import transaction  # noqa: E402
from store.models import (  # noqa: E402
    Base,
    Child,
    Match,
    OutboxMessage,
    OutboxStatus,
    Staff,
    VolunteerFamily,
)
from venskab.cli.common import AppContext  # noqa: E402

TOKEN = "123456789:BENCH-local-request-token-0001"
NOW = datetime(2026, 3, 9, 18, 30, tzinfo=UTC)  # a visit evening
FIRST_CHAT = 100_000
OCCASIONAL = {"/next": 3, "/help": 3, "/plan": 5}  # asked in one round out of this many


class LocalBotApi(BaseRequest):
    """Answers Bot API calls in process, the way Telegram would, without a network."""

    def __init__(self) -> None:
        self.message_id = 0
        self.calls: dict[str, int] = defaultdict(int)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls[endpoint] += 1
        params = request_data.parameters if request_data is not None else {}
        result: Any = True
        if endpoint == "getMe":
            result = {
                "id": 123456789,
                "is_bot": True,
                "first_name": "Bench",
                "username": "bench_bot",
            }
        elif endpoint in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            self.message_id += 1
            chat_id = params.get("chat_id", 1)
            result = {
                "message_id": params.get("message_id", self.message_id),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private", "first_name": "F"},
                "text": params.get("text", "…"),
            }
        return 200, json.dumps({"ok": True, "result": result}).encode()


def seed(app: AppContext, families: int) -> list[tuple[int, int]]:
    """``families`` linked volunteer families with a Hjem til Os match each, whose visit prompt
    for Monday 9 March went out. Returns (chat id, match id) pairs."""
    with transaction(app.session_factory) as session:
        programme = sync_programmes(session, app.programmes.values())["hjem-til-os"]
        staff = Staff(name="Procesleder", region="Hovedstaden")
        session.add(staff)
        session.flush()
        pairs = []
        for n in range(families):
            family = VolunteerFamily(
                name=f"Familie {n}",
                contact_name="Kontaktvoksen",
                region="Hovedstaden",
                telegram_chat_id=FIRST_CHAT + n,
            )
            match = Match(
                programme=programme,
                child=Child(first_name="Barn"),
                volunteer_family=family,
                staff=staff,
                region="Hovedstaden",
                start_date=date(2026, 3, 2),
                visit_weekday=0,
                visit_time=clock_time(15, 30),
                created_at=datetime(2026, 2, 20, tzinfo=UTC),
            )
            session.add(match)
            session.flush()
            pairs.append((FIRST_CHAT + n, match.id))
        session.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"m{mid}:weekly-visit:2026-03-09:v{mid}",
                    "match_id": mid,
                    "touchpoint_id": "weekly-visit",
                    "occurrence_key": "2026-03-09",
                    "kind": "visit_prompt",
                    "template": "visit_prompt",
                    "audience": "volunteer_family",
                    "recipient_id": mid,
                    "channel": "telegram",
                    "due_at": NOW,
                    "status": OutboxStatus.SENT,
                    "context": {},
                }
                for _, mid in pairs
            ],
        )
    return pairs


def updates_for(pairs: list[tuple[int, int]], count: int) -> list[tuple[str, dict[str, Any]]]:
    """A mix of what families and strangers send, round-robin over the families."""
    steps = [
        ("visit button", lambda c, m: _callback(c, f"v1|v|{m}|20260309|y")),
        ("mood button", lambda c, m: _callback(c, f"v1|ck|{m}|d20260309|4")),
        ("check-in text", lambda c, m: _message(c, "Det gik rigtig godt, vi bagte boller.")),
        ("/next", lambda c, m: _message(c, "/next")),
        ("stranger", lambda c, m: _message(c + 10_000_000, "hej 👋")),
        ("forged button", lambda c, m: _callback(c, f"v1|v|{m + 1}|20260309|y")),
        ("/help", lambda c, m: _message(c, "/help")),
        ("message to staff", lambda c, m: _message(c, "Kan vi flytte næste besøg?")),
        ("/plan", lambda c, m: _message(c, "/plan")),
    ]
    result: list[tuple[str, dict[str, Any]]] = []
    round_ = 0
    while len(result) < count:
        for name, build in steps:
            for chat_id, match_id in pairs:
                if len(result) >= count:
                    return result
                # Families answer prompts every week but look at the plan now and then.
                if name in OCCASIONAL and (chat_id + round_) % OCCASIONAL[name]:
                    continue
                result.append((name, build(chat_id, match_id)))
        round_ += 1
    return result


_update_id = 0


def _next_id() -> int:
    global _update_id
    _update_id += 1
    return _update_id


def _user(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "F", "language_code": "da"}


def _message(chat_id: int, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": _next_id(),
        "from": _user(chat_id),
        "date": int(time.time()),
        "text": text,
        "chat": {"id": chat_id, "type": "private", "first_name": "F"},
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": _next_id(), "message": message}


def _callback(chat_id: int, data: str) -> dict[str, Any]:
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "text": "…",
        "chat": {"id": chat_id, "type": "private", "first_name": "F"},
        "from": {"id": 123456789, "is_bot": True, "first_name": "Bench"},
    }
    return {
        "update_id": _next_id(),
        "callback_query": {
            "id": str(_next_id()),
            "from": _user(chat_id),
            "message": message,
            "chat_instance": "bench",
            "data": data,
        },
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def local_bot(
    database: str, families: int, count: int
) -> tuple[AppContext, BotApplication, LocalBotApi, list[tuple[str, Update]]]:
    """The real bot application on a fresh ``database`` with ``families`` linked families,
    initialised against the in-process Bot API, and ``count`` updates for it to handle."""
    app = AppContext(env={"VENSKAB_DATABASE_URL": database, "TELEGRAM_BOT_TOKEN": TOKEN})
    with app.engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    app.upgrade()
    pairs = seed(app, families)
    api = LocalBotApi()
    application = build_application(
        app.services,
        clock=lambda: NOW,
        request=api,
        get_updates_request=LocalBotApi(),
        rate_limiter=None,
    )
    await application.initialize()
    work = [
        (name, Update.de_json(data, application.bot)) for name, data in updates_for(pairs, count)
    ]
    return app, application, api, work


async def run(database: str, families: int, count: int) -> None:
    app, application, api, work = await local_bot(database, families, count)
    timings: dict[str, list[float]] = defaultdict(list)
    started, cpu_started = time.perf_counter(), time.process_time()
    for name, update in work:
        before = time.perf_counter()
        await application.process_update(update)
        timings[name].append((time.perf_counter() - before) * 1000)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    await application.shutdown()
    app.close()

    every = [t for values in timings.values() for t in values]
    print(f"database   {database.split('://', 1)[0]}")
    print(f"families   {families}")
    print(
        f"api calls  {sum(api.calls.values())} answered in process "
        f"({', '.join(f'{k} {v}' for k, v in sorted(api.calls.items()))})"
    )
    print()
    print(f"{'update':<18}{'count':>7}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, values in timings.items():
        print(
            f"{name:<18}{len(values):>7}{percentile(values, 0.5):>9.2f}"
            f"{percentile(values, 0.99):>9.2f}{max(values):>9.2f}"
        )
    print(
        f"{'all':<18}{len(every):>7}{percentile(every, 0.5):>9.2f}"
        f"{percentile(every, 0.99):>9.2f}{max(every):>9.2f}"
    )
    print()
    print(
        f"throughput {len(every) / elapsed:,.0f} updates/s "
        f"({len(every)} updates in {elapsed:.2f} s; mean {statistics.mean(every):.2f} ms)"
    )
    # The loop and one worker thread at a time do the work (PTB, handlers, SQLite), so CPU time
    # is about one core's time; it does not count waiting for a CPU that other processes hold.
    print(f"cpu        {len(every) / cpu:,.0f} updates per CPU second ({cpu:.2f} s of CPU)")


def _pin(core: int | None) -> str:
    if core is None:
        return "not pinned"
    if not hasattr(os, "sched_setaffinity"):
        return "this OS cannot pin it"
    os.sched_setaffinity(0, {core})
    return f"pinned to core {core}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    parser.add_argument("--families", type=int, default=200)
    parser.add_argument("--updates", type=int, default=6000)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for a quick check")
    parser.add_argument("--core", type=int, help="pin the process to this CPU core")
    parser.add_argument("--rounds", type=int, default=20, help="worries for the latency table")
    args = parser.parse_args()
    families, count = (10, 200) if args.smoke else (args.families, args.updates)
    note = _pin(args.core)
    with tempfile.TemporaryDirectory() as tmp:
        database = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        print(f"Telegram bot: {count} updates through process_update ({note})")
        asyncio.run(run(database, families, count))
        from bench.worry_latency import report

        rounds, flood = (3, 5) if args.smoke else (args.rounds, 25)
        report(database, rounds, flood)


if __name__ == "__main__":
    main()
