"""The Telegram bot on the command line: ``invite family|staff`` and ``sparring add|show|list``."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import click
from sqlalchemy import func, select

from followup import sparring as sparring_ops
from followup.invites import create_invite, deep_link
from followup.matches import sync_programmes
from followup.yearplan import fmt_date
from scheduler.programme import Kind
from store.models import RSVP, Match, MatchStatus, SparringSession, Staff, VolunteerFamily
from venskab.cli.common import ROW_ID, AppContext, UserError, parse_when, pass_app


def register(group: click.Group) -> None:
    group.add_command(invite)
    group.add_command(sparring)


# -- invite ------------------------------------------------------------------------------------


def _bot_username(app: AppContext, given: str | None) -> str:
    """The bot's @username: given, remembered by the running bot, or asked of Telegram."""
    if given:
        return given.lstrip("@")
    from bot.persistence import recall

    remembered = recall(app.session_factory, "bot", "username")
    if remembered and remembered.get("username"):
        return str(remembered["username"])
    token = app.settings.telegram_bot_token
    if not token:
        raise UserError(
            app.texts.gettext(
                "the bot's username is not known yet: set TELEGRAM_BOT_TOKEN (it is asked of "
                "Telegram) or pass --bot-username"
            )
        )
    from telegram import Bot
    from telegram.error import TelegramError

    async def get_me() -> str:
        base = app.settings.telegram_api_url or "https://api.telegram.org"
        async with Bot(token, base_url=f"{base}/bot") as bot:
            return bot.username

    try:
        return asyncio.run(get_me())
    except TelegramError as exc:
        raise UserError(
            app.texts.gettext(
                "could not ask Telegram for the bot's username (%(error)s)", error=exc.message
            )
        ) from exc


@click.group()
def invite() -> None:
    """Invite links that connect a Telegram chat to a volunteer family or a staff member."""


def _invite(app: AppContext, kind: str, subject_id: int, bot_username: str | None) -> None:
    username = _bot_username(app, bot_username)
    now = app.now()
    with app.transaction() as session:
        try:
            token, row = create_invite(session, kind, subject_id, now)  # type: ignore[arg-type]
        except LookupError as exc:
            raise UserError(str(exc)) from exc
        person: VolunteerFamily | Staff | None = (
            session.get(VolunteerFamily, subject_id)
            if kind == "family"
            else session.get(Staff, subject_id)
        )
        name = person.name if person is not None else str(subject_id)
        expires = row.expires_at.astimezone(ZoneInfo(app.settings.timezone))
    texts = app.texts
    until = f"{fmt_date(expires, app.locale, 'long')} {expires:%H:%M}"
    if kind == "family":
        invited = texts.gettext(
            "Invite for %(name)s (volunteer family %(id)s): open it on the phone that should "
            "get the messages. It works once, until %(until)s.",
            name=name,
            id=subject_id,
            until=until,
        )
    else:
        invited = texts.gettext(
            "Invite for %(name)s (staff member %(id)s): open it on the phone that should get "
            "the messages. It works once, until %(until)s.",
            name=name,
            id=subject_id,
            until=until,
        )
    click.echo(invited)
    click.echo(deep_link(username, token))


@invite.command("family")
@click.argument("family_id", type=ROW_ID)
@click.option("--bot-username", help="The bot's @username, if the bot has not run yet.")
@pass_app
def invite_family(app: AppContext, family_id: int, bot_username: str | None) -> None:
    """Print a single-use link (14 days) that connects a volunteer family's Telegram."""
    _invite(app, "family", family_id, bot_username)


@invite.command("staff")
@click.argument("staff_id", type=ROW_ID)
@click.option("--bot-username", help="The bot's @username, if the bot has not run yet.")
@pass_app
def invite_staff(app: AppContext, staff_id: int, bot_username: str | None) -> None:
    """Print a single-use link (14 days) that connects a staff member's Telegram."""
    _invite(app, "staff", staff_id, bot_username)


# -- sparring ----------------------------------------------------------------------------------


@click.group()
def sparring() -> None:
    """Sparring group sessions: add one, see who is coming."""


def _when(app: AppContext, session: SparringSession) -> str:
    local = session.starts_at.astimezone(ZoneInfo(app.settings.timezone))
    return app.texts.gettext(
        "%(day)s at %(time)s", day=fmt_date(local, app.locale, "full"), time=f"{local:%H:%M}"
    )


def _region(app: AppContext, region: str) -> str:
    return region or app.texts.gettext("all regions")


@sparring.command("add")
@click.option("--programme", "slug", required=True, help="The programme's id, e.g. hjem-til-os.")
@click.option("--at", "at", required=True, help="Start, e.g. 2026-05-05T19:30 (local time).")
@click.option("--region", default="", help="Only families in this region (default: all).")
@click.option("--link", help="The online meeting link (https://...).")
@click.option("--note", help="A short note for staff.")
@pass_app
def sparring_add(
    app: AppContext, slug: str, at: str, region: str, link: str | None, note: str | None
) -> None:
    """Add a session (or set the link of the one at that time); its families are invited."""
    programme = app.programmes.get(slug)
    if programme is None:
        raise UserError(
            app.texts.gettext(
                "there is no programme %(programme)s (try: %(known)s)",
                programme=repr(slug),
                known=", ".join(sorted(app.programmes)),
            )
        )
    if link is not None and not link.startswith(("https://", "http://")):
        raise UserError(app.texts.gettext("--link: expected a web address starting with https://"))
    starts_at = parse_when(at, app.settings.timezone)
    if starts_at <= app.now():
        raise UserError(app.texts.gettext("--at: the session must be in the future"))
    with app.transaction() as session:
        rows = sync_programmes(session, app.programmes.values())
        row, created = sparring_ops.add_session(
            session, rows[slug], region.strip(), starts_at, link, note, "cli"
        )
        query = (
            select(func.count())
            .select_from(Match)
            .where(Match.programme_id == rows[slug].id, Match.status != MatchStatus.ENDED)
        )
        if region.strip():
            query = query.where(Match.region == region.strip())
        families = session.scalar(query) or 0
        texts = app.texts
        what = {
            "id": row.id,
            "programme": programme.name,
            "region": _region(app, region.strip()),
            "when": _when(app, row),
        }
        line = (
            texts.gettext(
                "sparring session %(id)s added: %(programme)s, %(region)s, %(when)s", **what
            )
            if created
            else texts.gettext(
                "sparring session %(id)s updated: %(programme)s, %(region)s, %(when)s", **what
            )
        )
        if not row.meeting_link:
            line = f"{line} " + texts.gettext("(no meeting link yet: add one with --link)")
        click.echo(line)
    if any(tp.kind == Kind.SPARRING_INVITE for tp in programme.touchpoints):
        click.echo(
            texts.ngettext(
                "%(num)d volunteer family will be invited at the next tick.",
                "%(num)d volunteer families will be invited at the next tick.",
                families,
            )
        )
    else:
        click.echo(
            texts.gettext(
                "note: %(programme)s has no sparring_invite touchpoint: nobody is invited.",
                programme=programme.name,
            )
        )


@sparring.command("show")
@click.argument("session_id", type=ROW_ID)
@pass_app
def sparring_show(app: AppContext, session_id: int) -> None:
    """One session and who is coming (names only, no contact details)."""
    with app.transaction() as session:
        row = session.get(SparringSession, session_id)
        texts = app.texts
        if row is None:
            raise UserError(texts.gettext("there is no sparring session %(id)s", id=session_id))
        click.echo(
            texts.gettext(
                "Sparring session %(id)s: %(programme)s, %(region)s",
                id=row.id,
                programme=row.programme.name,
                region=_region(app, row.region),
            )
        )
        click.echo("  " + texts.gettext("when: %(when)s", when=_when(app, row)))
        click.echo("  " + texts.gettext("link: %(link)s", link=row.meeting_link or "-"))
        answers = sparring_ops.answers(session, row.id)
        for answer in (RSVP.YES, RSVP.MAYBE, RSVP.NO):
            names = [f"{f.name} ({f.contact_name})" for f, a in answers if a == answer]
            if answer == RSVP.YES:
                title = texts.gettext("Coming (%(num)s):", num=len(names))
            elif answer == RSVP.MAYBE:
                title = texts.gettext("Maybe (%(num)s):", num=len(names))
            else:
                title = texts.gettext("Not coming (%(num)s):", num=len(names))
            click.echo(title)
            for name in names:
                click.echo(f"  {name}")


@sparring.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also past sessions.")
@pass_app
def sparring_list(app: AppContext, show_all: bool) -> None:
    """Sessions from now on, with how many said yes."""
    with app.transaction() as session:
        query = select(SparringSession).order_by(SparringSession.starts_at)
        if not show_all:
            query = query.where(SparringSession.starts_at >= app.now())
        rows = list(session.scalars(query))
        texts = app.texts
        if not rows:
            click.echo(texts.gettext("no sparring sessions"))
            return
        for row in rows:
            coming = sum(1 for _, a in sparring_ops.answers(session, row.id) if a == RSVP.YES)
            click.echo(
                f"{row.id:>5}  {_when(app, row)}  {row.programme.slug}  "
                f"{_region(app, row.region)}  " + texts.gettext("%(num)s coming", num=coming)
            )
