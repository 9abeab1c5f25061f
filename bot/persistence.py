"""The bot's memory in our database: a python-telegram-bot ``BasePersistence``.

What is kept: each chat's ``chat_data`` (the half-finished question the bot is waiting on, e.g.
"what are you worried about?") and the states of any persistent ``ConversationHandler``. User
data, bot data and arbitrary callback data are not used and not stored.

The bot's own flows keep their open question in ``chat_data`` (see :mod:`bot.common`) rather
than in ``ConversationHandler`` states: PTB reads conversation states only once, at start-up,
so two webhook replicas would each keep their own; ``chat_data`` is refreshed for every update.
Conversation states are stored all the same, for any persistent ``ConversationHandler``.

Two choices differ from PTB's defaults, for restarts and for several replicas:

- ``refresh_chat_data`` reads the chat's row before every update, so a replica that did not
  handle the previous update still sees the state another one wrote.
- :class:`bot.context.BotApplication` writes changes after every update instead of every
  ``update_interval`` seconds, so a restart loses nothing. Unchanged data is not written again.

Data must be JSON (``dict`` of ``str`` keys): it is stored in a JSON column. PTB awaits these
methods on its event loop; the database work runs in a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from sqlalchemy import Engine, bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from telegram.ext import BasePersistence, PersistenceInput

from store.db import transaction
from store.models import BotState, utcnow

Data = dict[str, Any]
_READ = select(BotState.data).where(
    BotState.namespace == bindparam("namespace"), BotState.key == bindparam("key")
)
_DELETE = delete(BotState).where(
    BotState.namespace == bindparam("namespace"), BotState.key == bindparam("key")
)
ConversationKey = tuple[int | str, ...]
ConversationDict = dict[ConversationKey, object]
CDCData = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]
_ABSENT = object()


class DbPersistence(BasePersistence[Data, Data, Data]):
    """Chat data and conversation states in the ``bot_state`` table."""

    def __init__(self, factory: sessionmaker[Session], update_interval: float = 60) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=True, user_data=False, callback_data=False
            ),
            update_interval=update_interval,
        )
        self.factory = factory
        self.engine: Engine = factory.kw["bind"]
        # What the database holds, as far as this process knows: writes are skipped when
        # nothing changed (most updates change nothing), None means "no row".
        self._known: dict[tuple[str, str], Any] = {}

    # -- storage -----------------------------------------------------------------------------

    def _read(self, namespace: str, key: str) -> Any:
        # A plain connection, not an ORM session: this runs before every update.
        with self.engine.connect() as connection:
            data = connection.execute(_READ, {"namespace": namespace, "key": key}).scalar()
        value = dict(data) if data is not None else None
        self._known[(namespace, key)] = value
        return value

    def _write(self, namespace: str, key: str, value: Any) -> None:
        """Upsert ``value`` (a JSON dict), or delete the row when it is None or empty."""
        if not value:
            value = None
        if self._known.get((namespace, key), _ABSENT) == value:
            return
        with self.engine.begin() as connection:
            if value is None:
                connection.execute(_DELETE, {"namespace": namespace, "key": key})
            else:
                connection.execute(
                    _upsert_statement(connection.dialect.name, namespace, key, value)
                )
        self._known[(namespace, key)] = value

    def _scan(self, namespace: str) -> dict[str, Data]:
        with self.factory() as session:
            rows = session.scalars(select(BotState).where(BotState.namespace == namespace)).all()
            found = {row.key: dict(row.data) for row in rows}
        for key, value in found.items():
            self._known[(namespace, key)] = value
        return found

    # -- chat data ---------------------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, Data]:
        found = await asyncio.to_thread(self._scan, "chat")
        return {int(key): value for key, value in found.items()}

    async def update_chat_data(self, chat_id: int, data: Data) -> None:
        value = json.loads(json.dumps(data))  # a copy, taken on the loop that owns ``data``
        if self._known.get(("chat", str(chat_id)), _ABSENT) == (value or None):
            return  # nothing changed (most updates): no thread, no query
        await asyncio.to_thread(self._write, "chat", str(chat_id), value)

    async def refresh_chat_data(self, chat_id: int, chat_data: Data) -> None:
        stored = await asyncio.to_thread(self._read, "chat", str(chat_id)) or {}
        chat_data.clear()
        chat_data.update(stored)

    async def drop_chat_data(self, chat_id: int) -> None:
        await asyncio.to_thread(self._write, "chat", str(chat_id), None)

    # -- conversations -----------------------------------------------------------------------

    async def get_conversations(self, name: str) -> ConversationDict:
        found = await asyncio.to_thread(self._scan, f"conversation:{name}")
        return {tuple(json.loads(key)): value["state"] for key, value in found.items()}

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        value = None if new_state is None else {"state": new_state}
        await asyncio.to_thread(self._write, f"conversation:{name}", json.dumps(list(key)), value)

    # -- not stored --------------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, Data]:
        return {}

    async def update_user_data(self, user_id: int, data: Data) -> None:
        return None

    async def refresh_user_data(self, user_id: int, user_data: Data) -> None:
        return None

    async def drop_user_data(self, user_id: int) -> None:
        return None

    async def get_bot_data(self) -> Data:
        return {}

    async def update_bot_data(self, data: Data) -> None:
        return None

    async def refresh_bot_data(self, bot_data: Data) -> None:
        return None

    async def get_callback_data(self) -> CDCData | None:
        return None

    async def update_callback_data(self, data: CDCData) -> None:
        return None

    async def flush(self) -> None:
        """Nothing is buffered: every change was written when it happened."""
        return None


def _upsert_statement(dialect: str, namespace: str, key: str, value: Data) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(BotState).values(namespace=namespace, key=key, data=value, updated_at=utcnow())
    return stmt.on_conflict_do_update(
        index_elements=["namespace", "key"],
        set_={"data": stmt.excluded.data, "updated_at": stmt.excluded.updated_at},
    )


def remember(factory: sessionmaker[Session], namespace: str, key: str, value: Data) -> None:
    """Store a small fact about the bot itself (e.g. its username, for invite links)."""
    with transaction(factory) as session:
        session.execute(_upsert_statement(session.get_bind().dialect.name, namespace, key, value))


def recall(factory: sessionmaker[Session], namespace: str, key: str) -> Data | None:
    with factory() as session:
        row = session.get(BotState, (namespace, key))
        return dict(row.data) if row is not None else None
