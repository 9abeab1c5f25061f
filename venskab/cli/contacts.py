"""``venskab contact``: contacts with a match's parties that happened outside the system, and a
parent's consent to photos from the volunteer family."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

import click
from sqlalchemy.orm import Session

from followup.contacts import ContactError, record
from followup.moments import record_consent
from followup.people import PersonError, find_by_ref
from followup.yearplan import fmt_date
from store.models import ContactPerson, Match
from venskab.cli.common import ROW_ID, AppContext, UserError, pass_app

ROW_ID_TEXT = re.compile(r"[1-9][0-9]{0,8}", re.ASCII)
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
    on = _day(app, on_text, today)
    with app.transaction() as session:
        match = session.get(Match, match_id)
        if match is None:
            raise UserError(app.texts.gettext("there is no match %(id)s", id=match_id))
        try:
            record(session, match, PARTY[party], kind, on, today)
        except ContactError as exc:
            raise UserError(exc) from None
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


@contact.command("consent")
@click.argument("contact_ref")
@click.option(
    "--photos",
    type=click.Choice(["yes", "no"]),
    required=True,
    help="yes: the parent agreed to receive photos from the volunteer family; no: withdrawn.",
)
@click.option("--on", "on_text", help="The day consent was given, YYYY-MM-DD (default: today).")
@pass_app
def contact_consent(app: AppContext, contact_ref: str, photos: str, on_text: str | None) -> None:
    """Record a parent's or contact person's consent to photos from the volunteer family (by
    their ref or id), with the day it was given; --photos no withdraws it. Without consent a
    family's photo is refused and only the text of a greeting goes."""
    today = app.now().astimezone(ZoneInfo(app.settings.timezone)).date()
    on = _day(app, on_text, today)
    if on > today:
        raise UserError(
            app.texts.gettext(
                "--on %(day)s: consent cannot be given in the future",
                day=fmt_date(on, app.locale, "medium"),
            )
        )
    with app.transaction() as session:
        contact_id = _contact_id(app, session, contact_ref)
        person = session.get(ContactPerson, contact_id)
        if person is None:
            raise UserError(app.texts.gettext("there is no contact %(ref)s", ref=contact_ref))
        record_consent(session, person, photos == "yes", on, "cli")
    if photos == "yes":
        done = app.texts.gettext(
            "contact %(id)s: consent to photos given on %(day)s recorded",
            id=contact_id,
            day=fmt_date(on, app.locale, "medium"),
        )
    else:
        done = app.texts.gettext(
            "contact %(id)s: consent to photos withdrawn; no photos go to them", id=contact_id
        )
    click.echo(done)


def _day(app: AppContext, on_text: str | None, today: date) -> date:
    """The day given by ``--on`` (YYYY-MM-DD), today without it."""
    try:
        return date.fromisoformat(on_text) if on_text else today
    except ValueError:
        raise UserError(
            app.texts.gettext(
                "%(option)s %(value)s: write a date as YYYY-MM-DD, e.g. %(example)s",
                option="--on",
                value=repr(on_text),
                example="2026-03-02",
            )
        ) from None


def _contact_id(app: AppContext, session: Session, ref: str) -> int:
    try:
        return find_by_ref(session, "contact", ref)
    except PersonError:
        if ROW_ID_TEXT.fullmatch(ref):
            return int(ref)
        raise UserError(
            app.texts.gettext("there is no contact with ref or id %(ref)s", ref=repr(ref))
        ) from None
