"""A person's export as one readable HTML page, for a person who asks to see what we hold.

The page shows the same data as the JSON export (:func:`followup.people.export_person`), one
section per kind of record, headed in the person's language. Everything is escaped; the page
has no scripts and no outside resources, so it can be sent as a file and opened anywhere.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, select_autoescape

HEADINGS: dict[str, dict[str, str]] = {
    "da": {
        "title": "Det, vi har registreret om dig",
        "intro": "Her er alt, hvad vi har gemt om dig. Udtrækket er lavet {at}.",
        "record": "Oplysninger",
        "matches": "Forløb",
        "visits": "Besøg",
        "checkins": "Tilbagemeldinger",
        "messages": "Beskeder sendt til dig",
        "escalations": "Det, du har skrevet til os",
        "sparring_rsvps": "Svar på sparringsmøder",
        "moments": "Hilsner til barnets forælder",
        "surveys": "Spørgeskemaer",
        "sms_surveys": "Spørgeskemaer på sms",
        "bot_state": "Det, Telegram-botten husker",
        "audit": "Hvad der er gjort med dine oplysninger",
        "tasks": "Opgaver",
        "actions": "Dine handlinger",
        "none": "Ingen.",
    },
    "en": {
        "title": "What we hold about you",
        "intro": "This is everything we have stored about you. The export was made {at}.",
        "record": "Details",
        "matches": "Matches",
        "visits": "Visits",
        "checkins": "Check-ins",
        "messages": "Messages sent to you",
        "escalations": "What you wrote to us",
        "sparring_rsvps": "Answers to sparring sessions",
        "moments": "Greetings to the child's parent",
        "surveys": "Questionnaires",
        "sms_surveys": "Questionnaires by text message",
        "bot_state": "What the Telegram bot remembers",
        "audit": "What was done with your details",
        "tasks": "Tasks",
        "actions": "Your actions",
        "none": "None.",
    },
}

PAGE_SOURCE = """<!doctype html>
<html lang="{{ lang }}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ h.title }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #1a1a1a; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; font-size: 0.95rem; }
th, td { border: 1px solid #ccc; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f2f2f2; } td { white-space: pre-wrap; overflow-wrap: anywhere; }
</style></head>
<body>
<h1>{{ h.title }}</h1>
<p>{{ h.intro.format(at=exported_at) }}</p>
{% for key, rows in sections %}
<h2>{{ h.get(key, key) }}</h2>
{% if not rows %}<p>{{ h.none }}</p>{% else %}
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
PAGE = _ENV.from_string(PAGE_SOURCE)


def render_html(data: dict[str, Any]) -> str:
    """The export ``data`` as a page headed in the person's language (Danish by default)."""
    record = data.get("record") or {}
    lang = str(record.get("locale") or "da")
    lang = lang if lang in HEADINGS else "da"
    sections: list[tuple[str, list[dict[str, Any]]]] = [("record", [record])]
    for key, value in data.items():
        if key in ("record", "kind", "exported_at") or not isinstance(value, list):
            continue
        rows = [v if isinstance(v, dict) else {"": v} for v in value]
        sections.append((key, rows))
    return PAGE.render(
        lang=lang, h=HEADINGS[lang], exported_at=data.get("exported_at", ""), sections=sections
    )
