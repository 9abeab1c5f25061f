"""staff contacts

Contacts staff record by hand (a call, a visit, a meeting with a match's volunteer family or
parent), counted by the programme's contact standard.

Revision ID: 0007_staff_contacts
Revises: 0006_calendar_feeds
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0007_staff_contacts"
down_revision = "0006_calendar_feeds"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["match.id"],
            name=op.f("fk_staff_contact_match_id_match"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_contact_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_contact")),
    )
    op.create_index(op.f("ix_staff_contact_match_id"), "staff_contact", ["match_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_staff_contact_match_id"), table_name="staff_contact")
    op.drop_table("staff_contact")
