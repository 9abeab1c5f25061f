"""resolution outcome

A resolved case records how it ended (handled, a report of concern, referred on, no action
needed, the match ended), beside the optional note.

Revision ID: 0015_resolution_outcome
Revises: 0014_outbox_priority
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_resolution_outcome"
down_revision = "0014_outbox_priority"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.add_column(sa.Column("resolution_outcome", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escalation") as batch:
        batch.drop_column("resolution_outcome")
