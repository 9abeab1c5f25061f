"""A person's export as one readable HTML page, for a person who asks to see what we hold.

The page shows the same data as the JSON export (:func:`followup.people.export_person`), one
section per kind of record, headed in the person's language. Everything is escaped; the page
has no scripts and no outside resources, so it can be sent as a file and opened anywhere.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

from scheduler import i18n
from scheduler.i18n import N_

TITLE = N_("What we hold about you")
INTRO = N_("This is everything we have stored about you. The export was made %(at)s.")
NONE = N_("None.")
# Each section's heading (message ids, read in the person's language).
HEADINGS: dict[str, str] = {
    "record": N_("Details"),
    "matches": N_("Matches"),
    "visits": N_("Visits"),
    "checkins": N_("Check-ins"),
    "messages": N_("Messages sent to you"),
    "escalations": N_("What you wrote to us"),
    "sparring_rsvps": N_("Answers to sparring sessions"),
    "moments": N_("Greetings to the child's parent"),
    "surveys": N_("Questionnaires"),
    "sms_surveys": N_("Questionnaires by text message"),
    "bot_state": N_("What the Telegram bot remembers"),
    "audit": N_("What was done with your details"),
    "tasks": N_("Tasks"),
    "actions": N_("Your actions"),
    "pauses": N_("Pauses"),
    "match_notes": N_("Notes by staff"),
    "staff_contacts": N_("Contacts with staff"),
    "household": N_("The household"),
    "referrals": N_("The waiting list"),
    "waiting_tasks": N_("Tasks while waiting"),
    "child_voice": N_("The child's own answers"),
    "calendar_feeds": N_("Calendar links"),
    "invites": N_("Invitation links"),
    "contacts": N_("Contacts you recorded"),
}

PAGE_SOURCE = """<!doctype html>
<html lang="{{ locale }}" dir="{{ direction }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ _(words.title) }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; font-size: 0.95rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td { white-space: pre-wrap; overflow-wrap: anywhere; }
</style></head>
<body>
<h1>{{ _(words.title) }}</h1>
<p>{{ _(words.intro, at=exported_at) }}</p>
{% for key, rows in sections %}
<h2>{{ _(headings[key]) if key in headings else key }}</h2>
{% if not rows %}<p>{{ _(words.none) }}</p>{% else %}
<table>
<tr>{% for column in rows[0] %}<th>{{ column }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for column in rows[0] %}<td>{{ row.get(column) | show }}</td>{% endfor %}</tr>
{% endfor %}
</table>
{% endif %}
{% endfor %}
</body></html>
"""


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_show(v) for v in value)
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_show(v)}" for k, v in value.items())
    return str(value)


_ENV = Environment(autoescape=select_autoescape(default=True))
_ENV.filters["show"] = _show
i18n.install(_ENV)
PAGE = _ENV.from_string(PAGE_SOURCE)


def render_html(data: dict[str, Any]) -> str:
    """The export ``data`` as a page headed in the person's language (Danish by default)."""
    record = data.get("record") or {}
    lang = str(record.get("locale") or "da")
    try:
        i18n.texts(lang)
    except LookupError:
        lang = "da"
    sections: list[tuple[str, list[dict[str, Any]]]] = [("record", [record])]
    for key, value in data.items():
        if key in ("record", "kind", "exported_at") or not isinstance(value, list):
            continue
        rows = [v if isinstance(v, dict) else {"": v} for v in value]
        sections.append((key, rows))
    return PAGE.render(
        locale=lang,
        direction=i18n.language(lang).direction,
        headings=HEADINGS,
        words={"title": TITLE, "intro": INTRO, "none": NONE},
        exported_at=data.get("exported_at", ""),
        sections=sections,
    )
