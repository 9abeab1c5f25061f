"""school calendar

A match knows the municipality whose school holidays it follows (empty: its region's).

Revision ID: 0012_school_calendar
Revises: 0011_moments
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_school_calendar"
down_revision = "0011_moments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.add_column(
            sa.Column("municipality", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.drop_column("municipality")
