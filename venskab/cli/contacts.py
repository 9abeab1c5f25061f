"""``venskab contact``: contacts with a match's parties that happened outside the system."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import click

from followup.contacts import ContactError, record
from followup.yearplan import fmt_date
from store.models import Match
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app

PARTY = {"family": "volunteer_family", "parent": "contact_person"}


def register(group: click.Group) -> None:
    group.add_command(contact)


@click.group()
def contact() -> None:
    """Contacts with a match's volunteer family or parent (the programme's contact standard)."""


@contact.command("add")
@click.argument("match_id", type=ROW_ID)
@click.option("--with", "party", type=click.Choice(sorted(PARTY)), required=True)
@click.option("--kind", type=click.Choice(["call", "visit", "meeting"]), required=True)
@click.option("--on", "on_text", help="The day it happened, YYYY-MM-DD (default: today).")
@pass_app
def contact_add(app: AppContext, match_id: int, party: str, kind: str, on_text: str | None) -> None:
    """Record a call, visit or meeting with the family or the parent: it counts towards the
    programme's contact standard, and a case about a missing contact closes at the next tick."""
    today = app.now().astimezone(ZoneInfo(app.settings.timezone)).date()
    try:
        on = date.fromisoformat(on_text) if on_text else today
    except ValueError:
        raise UserError(
            app.texts.gettext(
                "%(option)s %(value)s: write a date as YYYY-MM-DD, e.g. %(example)s",
                option="--on",
                value=repr(on_text),
                example="2026-03-02",
            )
        ) from None
    with app.transaction() as session:
        match = session.get(Match, match_id)
        if match is None:
            raise UserError(app.texts.gettext("there is no match %(id)s", id=match_id))
        try:
            record(session, match, PARTY[party], kind, on, today)
        except ContactError as exc:
            raise UserError(str(exc)) from None
    texts, day = app.texts, fmt_date(on, app.locale, "medium")
    recorded = {
        ("family", "call"): texts.gettext(
            "match %(id)s: a call with the volunteer family on %(day)s is recorded",
            id=match_id,
            day=day,
        ),
        ("family", "visit"): texts.gettext(
            "match %(id)s: a visit with the volunteer family on %(day)s is recorded",
            id=match_id,
            day=day,
        ),
        ("family", "meeting"): texts.gettext(
            "match %(id)s: a meeting with the volunteer family on %(day)s is recorded",
            id=match_id,
            day=day,
        ),
        ("parent", "call"): texts.gettext(
            "match %(id)s: a call with the parent on %(day)s is recorded", id=match_id, day=day
        ),
        ("parent", "visit"): texts.gettext(
            "match %(id)s: a visit with the parent on %(day)s is recorded", id=match_id, day=day
        ),
        ("parent", "meeting"): texts.gettext(
            "match %(id)s: a meeting with the parent on %(day)s is recorded",
            id=match_id,
            day=day,
        ),
    }
    click.echo(recorded[("family" if party == "family" else "parent", kind)])
