"""moments shared with the parent

A volunteer family's greetings (text and, with consent, a photo) to the child's parent or
contact person, and the day each contact person's consent to photos was recorded.

Revision ID: 0011_moments
Revises: 0010_endings
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0011_moments"
down_revision = "0010_endings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contact_person") as batch:
        batch.add_column(sa.Column("photo_consent_on", sa.Date(), nullable=True))
    op.create_table(
        "moment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=24), nullable=True),
        sa.Column("photo_size", sa.Integer(), nullable=True),
        sa.Column("had_photo", sa.Boolean(), nullable=False),
        sa.Column("photo_until", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["match_id"], ["match.id"], name=op.f("fk_moment_match_id_match"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moment")),
    )
    op.create_index(op.f("ix_moment_match_id"), "moment", ["match_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_moment_match_id"), table_name="moment")
    op.drop_table("moment")
    with op.batch_alter_table("contact_person") as batch:
        batch.drop_column("photo_consent_on")
