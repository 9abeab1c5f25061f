"""``venskab calendar revoke REF``: close a volunteer family's calendar feed (its old address
answers 404 from then on; ``/calendar`` in the bot gives the family a new one)."""

from __future__ import annotations

import click
from sqlalchemy import select

from followup.calendar_feed import revoke_feeds
from store.models import VolunteerFamily
from venskab.cli.common import AppContext, UserError, pass_app, row_id


def register(group: click.Group) -> None:
    group.add_command(calendar)


@click.group()
def calendar() -> None:
    """The volunteer families' calendar feeds."""


@calendar.command("revoke")
@click.argument("family")
@pass_app
def revoke(app: AppContext, family: str) -> None:
    """Close the calendar feed of FAMILY (its ref from the import, or its id)."""
    with app.transaction() as session:
        found = session.scalars(
            select(VolunteerFamily).where(VolunteerFamily.external_ref == family.strip())
        ).first()
        if found is None and (number := row_id(family)) is not None:
            found = session.get(VolunteerFamily, number)
        if found is None:
            raise UserError(
                app.texts.gettext(
                    "FAMILY: no volunteer family with ref or id %(ref)s", ref=repr(family[:40])
                )
            )
        count = revoke_feeds(session, found.id, app.now(), "cli")
    if count:
        click.echo(
            app.texts.gettext(
                "calendar feed of family %(id)s closed; its address now answers 404", id=found.id
            )
        )
    else:
        click.echo(app.texts.gettext("family %(id)s had no open calendar feed", id=found.id))
