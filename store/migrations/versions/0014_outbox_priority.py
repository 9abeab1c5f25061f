"""outbox priority

Staff alerts and login links are claimed before routine messages due at the same time or
earlier: a ``priority`` column (0 urgent, 1 routine) and a claim index on it and the due time.
Rows already queued are routine, except the alerts and login links among them.

Revision ID: 0014_outbox_priority
Revises: 0013_child_voice
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_outbox_priority"
down_revision = "0013_child_voice"
branch_labels = None
depends_on = None

URGENT_KINDS = ("alert", "login_link")  # scheduler.outbox.URGENT_KINDS when this was written


def upgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(
            sa.Column("priority", sa.SmallInteger(), nullable=False, server_default=sa.text("1"))
        )
    outbox = sa.table("outbox_message", sa.column("kind", sa.String), sa.column("priority"))
    op.execute(outbox.update().where(outbox.c.kind.in_(URGENT_KINDS)).values(priority=0))
    op.create_index(
        "ix_outbox_claim",
        "outbox_message",
        ["priority", "due_at"],
        sqlite_where=sa.text("status = 'planned'"),
        postgresql_where=sa.text("status = 'planned'"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_claim", table_name="outbox_message")
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("priority")
