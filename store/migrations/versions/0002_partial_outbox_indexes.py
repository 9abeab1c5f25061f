"""partial outbox indexes

The dispatcher's index holds only planned rows, keyed by due time; rows left in sending get
an index of their own; the provider id index leaves out rows that have none. Sent, expired
and cancelled rows, most of the table over time, are in none of them.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

PLANNED = sa.text("status = 'planned'")
SENDING = sa.text("status = 'sending'")
HAS_PROVIDER_ID = sa.text("provider_id IS NOT NULL")


def _where(clause: sa.TextClause) -> dict[str, Any]:
    return {"sqlite_where": clause, "postgresql_where": clause}


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox_message")
    op.drop_index("ix_outbox_message_provider_id", table_name="outbox_message")
    op.create_index("ix_outbox_due", "outbox_message", ["due_at"], **_where(PLANNED))
    op.create_index("ix_outbox_sending", "outbox_message", ["claimed_at"], **_where(SENDING))
    op.create_index(
        "ix_outbox_message_provider_id",
        "outbox_message",
        ["provider_id"],
        **_where(HAS_PROVIDER_ID),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_message_provider_id", table_name="outbox_message")
    op.drop_index("ix_outbox_sending", table_name="outbox_message")
    op.drop_index("ix_outbox_due", table_name="outbox_message")
    op.create_index("ix_outbox_message_provider_id", "outbox_message", ["provider_id"])
    op.create_index("ix_outbox_due", "outbox_message", ["status", "due_at"])
