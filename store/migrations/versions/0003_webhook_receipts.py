"""webhook receipts

One row per provider delivery acted on (provider, provider's id), so a replayed webhook is
recorded once.

Revision ID: 0003_webhook_receipts
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0003_webhook_receipts"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_receipt",
        sa.Column("provider", sa.String(length=24), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("received_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "key", name=op.f("pk_webhook_receipt")),
    )
    op.create_index(
        op.f("ix_webhook_receipt_received_at"), "webhook_receipt", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_webhook_receipt_received_at"), table_name="webhook_receipt")
    op.drop_table("webhook_receipt")
