"""What the outbox modules share: the table, the key column, the reasons a row was not sent,
and the kinds that go first."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from scheduler.i18n import N_
from store.models import OutboxMessage

_OUTBOX = cast(Table, OutboxMessage.__table__)
KEY = "idempotency_key"

NOT_IN_PLAN = N_("no longer in the plan")
EXPIRED = N_("expired before it could be sent")
IN_DOUBT = N_("the sending process stopped mid-send; not re-sent to avoid a duplicate")
ACKNOWLEDGED = "acknowledged"
MAX_FALLBACKS = 3
# What staff must hear at once: claimed before routine messages due at the same time or
# earlier (a backlog of visit prompts never holds up an escalation alert or a login link).
URGENT_KINDS = frozenset({"alert", "login_link"})
URGENT, ROUTINE = 0, 1
