"""calendar feeds

A volunteer family's iCalendar feed, behind an unguessable address (only its sha256 is stored),
revocable.

Revision ID: 0006_calendar_feeds
Revises: 0004_escalation_policy
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0006_calendar_feeds"
down_revision = "0004_escalation_policy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "calendar_feed",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("volunteer_family_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["volunteer_family_id"],
            ["volunteer_family.id"],
            name=op.f("fk_calendar_feed_volunteer_family_id_volunteer_family"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_feed")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_calendar_feed_token_hash")),
    )
    op.create_index(
        op.f("ix_calendar_feed_volunteer_family_id"),
        "calendar_feed",
        ["volunteer_family_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_calendar_feed_volunteer_family_id"), table_name="calendar_feed")
    op.drop_table("calendar_feed")
