"""endings

Why a match ended, as a short list beside the free text (``match.end_reason_code``), and the
link from a re-match to the child's earlier match (``match.previous_match_id``).

Revision ID: 0010_endings
Revises: 0009_waiting_and_certificates
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_endings"
down_revision = "0009_waiting_and_certificates"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.add_column(sa.Column("end_reason_code", sa.String(length=24), nullable=True))
        batch.add_column(sa.Column("previous_match_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_match_previous_match_id_match"),
            "match",
            ["previous_match_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index(op.f("ix_match_previous_match_id"), ["previous_match_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("match") as batch:
        batch.drop_index(op.f("ix_match_previous_match_id"))
        batch.drop_constraint(op.f("fk_match_previous_match_id_match"), type_="foreignkey")
        batch.drop_column("previous_match_id")
        batch.drop_column("end_reason_code")
