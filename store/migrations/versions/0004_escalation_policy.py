"""escalation policy

A case counts the pushes it has had (bounded by the programme's policy), can be snoozed until a
moment, and keeps a count of its evidence and the references it has seen, so its evidence list
can stay short (the last few items).

Revision ID: 0004_escalation_policy
Revises: 0003_webhook_receipts
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0004_escalation_policy"
down_revision = "0003_webhook_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(sa.Column("push_count", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("snoozed_until", store.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("evidence_count", sa.Integer(), nullable=False, server_default="1")
        )
        batch.add_column(sa.Column("refs", sa.JSON(), nullable=False, server_default="[]"))
    # ``level`` now counts the policy steps already pushed (it was the last level pushed).
    op.execute("UPDATE escalation SET level = level + 1 WHERE last_notified_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("refs")
        batch.drop_column("evidence_count")
        batch.drop_column("snoozed_until")
        batch.drop_column("push_count")
