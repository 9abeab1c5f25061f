"""What the match commands share: a date option within two years of today, a date as staff
read it, a match by id, and a plain table for the terminal."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from followup import matches as ops
from followup.matches import MatchError
from followup.yearplan import fmt_date
from store.models import Match
from store.validation import near_today, strip_controls
from venskab.cli.common import AppContext, UserError


def date_option(value: str | None, app: AppContext, name: str) -> date | None:
    if value is None:
        return None
    texts = app.texts
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise UserError(
            texts.gettext(
                "%(option)s: %(value)s is not a date such as 2026-07-01",
                option=name,
                value=repr(value),
            )
        ) from exc
    today = app.now().astimezone(app.settings.zone).date()
    if not near_today(day, today):  # the domain refuses it too; here the option is named
        raise UserError(
            texts.gettext(
                "%(option)s: %(value)s is more than two years from today (%(today)s); check the "
                "year",
                option=name,
                value=value,
                today=day_text(today, app.locale),
            )
        )
    return day


def day_text(day: date, locale: str) -> str:
    """A date as staff read it: "2. mar. 2026" / "2 Mar 2026"."""
    return fmt_date(day, locale, "medium")


def load_match(session: Session, match_id: int) -> Match:
    try:
        return ops.get_match(session, match_id)
    except MatchError as exc:
        raise UserError(exc) from exc


def text_table(rows: list[list[str]], headers: list[str]) -> str:
    # Names stored before imports refused control characters must not reach a terminal raw.
    rows = [
        [strip_controls(cell).replace("\t", " ").replace("\n", " ") for cell in r] for r in rows
    ]
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
    return "\n".join(lines)
