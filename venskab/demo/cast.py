"""Who the demo is about: its time zone, the programmes' cast and the logins of its staff members."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from store.models import Cadence, Locale, Staff
from venskab.cli.common import AppContext

ZONE = ZoneInfo("Europe/Copenhagen")

# (programme, child, weeks since start, weekday, cadence, contact locale)
CAST = [
    ("hjem-til-os", "Barn A", 2018, 17, 0, Cadence.WEEKLY, Locale.DA),
    ("mentorbarn", "Barn B", 2014, 3, 2, Cadence.TWO_THREE_MONTHLY, Locale.EN),
    ("familien-i-fokus", "Barn C", 2019, 46, 3, Cadence.BIWEEKLY, Locale.DA),
]


# The demo's staff members by email, and the username each signs in with.
DEMO_LOGINS = {
    "procesleder@example.org": "demo-procesleder",
    "koordinator@example.org": "demo-koordinator",
}


def demo_logins(app: AppContext, now: datetime) -> list[tuple[str, str, str]]:
    """New random web app passwords for the demo's staff members, each start (embedded default
    only): (username, password, role) to print. Nothing when the demo's staff are not there."""
    import secrets

    from followup.staff_auth import set_password

    logins = []
    with app.transaction() as session:
        for email, username in DEMO_LOGINS.items():
            member = session.scalars(select(Staff).where(Staff.email == email)).first()
            if member is None:
                continue
            if member.external_ref is None:
                member.external_ref = username
            password = "-".join(secrets.token_urlsafe(4) for _ in range(3))
            set_password(session, member, password, now, actor="demo")
            logins.append((member.external_ref, password, member.role.value))
    return logins
