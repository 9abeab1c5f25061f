"""waiting lists and certificates

The waiting list: a volunteer family's status (applied, screening, waiting, matched, paused,
left), since when, and the programme it is approved for; a referral for each child waiting for a
family. A volunteer family's household members (first name and birth year) with the dates of
their child and criminal record certificates.

Revision ID: 0009_waiting_and_certificates
Revises: 0008_staff_accounts
"""

import sqlalchemy as sa
from alembic import op

import store.types

revision = "0009_waiting_and_certificates"
down_revision = "0008_staff_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("volunteer_family", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=24), nullable=True))
        batch_op.add_column(sa.Column("status_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("programme_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_volunteer_family_programme_id_programme"),
            "programme",
            ["programme_id"],
            ["id"],
        )
    # A family with a running match is matched.
    op.execute(
        "UPDATE volunteer_family SET status = 'matched' WHERE id IN "
        "(SELECT volunteer_family_id FROM match WHERE status != 'ended')"
    )
    op.create_table(
        "referral",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("programme_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("contact_person_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("status_since", sa.Date(), nullable=False),
        sa.Column("match_id", sa.Integer(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["child.id"], name=op.f("fk_referral_child_id_child"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["contact_person_id"],
            ["contact_person.id"],
            name=op.f("fk_referral_contact_person_id_contact_person"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["match_id"], ["match.id"], name=op.f("fk_referral_match_id_match"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["programme_id"], ["programme.id"], name=op.f("fk_referral_programme_id_programme")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff.id"], name=op.f("fk_referral_staff_id_staff"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referral")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_referral_external_ref")),
    )
    op.create_index(op.f("ix_referral_child_id"), "referral", ["child_id"], unique=False)
    op.create_index(
        op.f("ix_referral_contact_person_id"), "referral", ["contact_person_id"], unique=False
    )
    op.create_table(
        "household_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_family_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=40), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("child_certificate_on", sa.Date(), nullable=True),
        sa.Column("criminal_record_on", sa.Date(), nullable=True),
        sa.Column("created_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["volunteer_family_id"],
            ["volunteer_family.id"],
            name=op.f("fk_household_member_volunteer_family_id_volunteer_family"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_member")),
    )
    op.create_index(
        op.f("ix_household_member_volunteer_family_id"),
        "household_member",
        ["volunteer_family_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_household_member_volunteer_family_id"), table_name="household_member")
    op.drop_table("household_member")
    op.drop_index(op.f("ix_referral_contact_person_id"), table_name="referral")
    op.drop_index(op.f("ix_referral_child_id"), table_name="referral")
    op.drop_table("referral")
    with op.batch_alter_table("volunteer_family", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_volunteer_family_programme_id_programme"), type_="foreignkey"
        )
        batch_op.drop_column("programme_id")
        batch_op.drop_column("status_since")
        batch_op.drop_column("status")
