"""The sandbox as ``venskab run`` wires it, in process: the runtime with the sandbox bot as its
Telegram channel, the sandbox control in ``Services.sandbox`` and the web app under uvicorn,
all on one event loop in a background thread, with the sandbox clock starting at ``start``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

import uvicorn
from sqlalchemy import Engine

from bot.sandbox import SandboxBot
from venskab.cli.common import AppContext
from venskab.runtime import sandbox_runtime
from venskab.sandbox import SandboxControl, start_sandbox
from web.app import create_app

T = TypeVar("T")


class SandboxServer:
    def __init__(self, db_url: str, engine: Engine, port: int, start: datetime) -> None:
        self.app = AppContext(
            env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_HTTP_PORT": str(port)}, _engine=engine
        )
        self.app.time_offset = start - datetime.now(UTC)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.control: SandboxControl | None = None
        self.server: uvicorn.Server | None = None
        self.bot: SandboxBot | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> SandboxServer:
        self.thread.start()
        self.call(self._start())
        deadline = time.monotonic() + 10
        while self.server is None or not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the sandbox's web server did not start")
            time.sleep(0.01)
        return self

    async def _start(self) -> None:
        self.bot = SandboxBot(self.app.services)
        runtime = sandbox_runtime(self.app, self.bot)
        self.control = await start_sandbox(self.app, runtime, self.bot, asyncio.Lock())
        config = uvicorn.Config(
            create_app(self.app.services),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self.server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self.server.serve())

    async def _stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            await self._serving
        if self.bot is not None:
            await self.bot.stop()

    def close(self) -> None:
        self.call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()
