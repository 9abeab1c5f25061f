"""A dispatcher process for the multi-process tests.

    python -m tests.support.dispatch_worker DB_URL WORKER_ID NOW_ISO RECORD_FILE

Its channels record each send by appending the outbox id to RECORD_FILE (one line per send,
O_APPEND: atomic for short lines), so the test can count sends per message across processes.
It drains everything due at NOW, then exits.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime

from followup.hooks import engine_hooks
from scheduler.channels.base import OutgoingMessage, SendResult
from scheduler.dispatcher import Dispatcher
from scheduler.programme import PROGRAMMES_DIR, load_all
from store import clock as store_clock
from store.db import make_engine, make_session_factory


class RecordingChannel:
    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def send(self, message: OutgoingMessage) -> SendResult:
        os.write(self.fd, f"{message.reference}\n".encode())
        return SendResult(provider_id=f"rec-{message.reference}")

    async def close(self) -> None:
        pass


async def main() -> None:
    url, worker, now_text, record = sys.argv[1:5]
    store_clock.install(lambda: datetime.now(UTC), lambda: "Europe/Copenhagen")
    engine = make_engine(url)
    channels = {
        name: RecordingChannel(name, record) for name in ("sms", "email", "telegram", "voice")
    }
    dispatcher = Dispatcher(
        make_session_factory(engine),
        load_all(PROGRAMMES_DIR),
        channels,
        worker_id=worker,
        secret="test-secret",
        batch_size=100,
        hooks=engine_hooks(load_all(PROGRAMMES_DIR), None),
    )
    stats = await dispatcher.run_once(datetime.fromisoformat(now_text))
    print(f"{worker}: claimed {stats.claimed}, sent {stats.sent}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
