"""child voice

The child's voice is a survey relayed by an adult around the child: when the volunteer family
relays it, the invitation names the family instead of a contact person.

Revision ID: 0013_child_voice
Revises: 0012_school_calendar
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_child_voice"
down_revision = "0012_school_calendar"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("survey_invitation") as batch:
        batch.add_column(sa.Column("volunteer_family_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_survey_invitation_volunteer_family_id"), ["volunteer_family_id"]
        )
        batch.create_foreign_key(
            batch.f("fk_survey_invitation_volunteer_family_id_volunteer_family"),
            "volunteer_family",
            ["volunteer_family_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_invitation") as batch:
        batch.drop_constraint(
            batch.f("fk_survey_invitation_volunteer_family_id_volunteer_family"),
            type_="foreignkey",
        )
        batch.drop_index(batch.f("ix_survey_invitation_volunteer_family_id"))
        batch.drop_column("volunteer_family_id")
