"""staff accounts

Staff sign in to the web app: a password (its argon2id hash) per staff member, the signed-in
browsers (the sha256 of each session's cookie token, with its CSRF token), and staff members'
notes on a match.

Revision ID: 0008_staff_accounts
Revises: 0007_staff_contacts
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0008_staff_accounts"
down_revision = "0007_staff_contacts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_credential",
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("changed_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_credential_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("staff_id", name=op.f("pk_staff_credential")),
    )
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_staff_session_staff_id_staff"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_session_token_hash")),
    )
    op.create_index(op.f("ix_staff_session_staff_id"), "staff_session", ["staff_id"], unique=False)
    op.create_table(
        "match_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["match_id"],
            ["match.id"],
            name=op.f("fk_match_note_match_id_match"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff.id"],
            name=op.f("fk_match_note_staff_id_staff"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_note")),
    )
    op.create_index(op.f("ix_match_note_match_id"), "match_note", ["match_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_match_note_match_id"), table_name="match_note")
    op.drop_table("match_note")
    op.drop_index(op.f("ix_staff_session_staff_id"), table_name="staff_session")
    op.drop_table("staff_session")
    op.drop_table("staff_credential")
