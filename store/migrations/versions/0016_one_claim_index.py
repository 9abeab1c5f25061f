"""one claim index

The dispatcher claims planned rows through ``ix_outbox_claim`` (priority, then due time) since
0014; the older ``ix_outbox_due`` (due time alone, planned rows) is no longer read by any query
and made every planned row cost a second index entry on insert, claim and expiry.

Revision ID: 0016_one_claim_index
Revises: 0015_resolution_outcome
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_one_claim_index"
down_revision = "0015_resolution_outcome"
branch_labels = None
depends_on = None

PLANNED = sa.text("status = 'planned'")


def upgrade() -> None:
    op.drop_index("ix_outbox_due", table_name="outbox_message")


def downgrade() -> None:
    op.create_index(
        "ix_outbox_due",
        "outbox_message",
        ["due_at"],
        sqlite_where=PLANNED,
        postgresql_where=PLANNED,
    )
