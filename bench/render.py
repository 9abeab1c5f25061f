"""Rendering messages: how many a second the dispatcher's renderer makes of each template, in
each language, with the words looked up in the catalogs. Prints a table, asserts nothing.

    .venv/bin/python bench/render.py              # every family and parent message, 2,000 each
    .venv/bin/python bench/render.py --times 500
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scheduler import i18n  # noqa: E402
from scheduler.render import CHANNELS, TEMPLATES_DIR, available, load, render_loaded  # noqa: E402

CPH = ZoneInfo("Europe/Copenhagen")
STAFF_ONLY = {"daily_digest", "escalation_alert", "escalation_group", "login_link"}


def context(locale: str) -> dict[str, Any]:
    start = datetime(2026, 3, 3, 19, 30, tzinfo=CPH)
    return {
        "locale": locale,
        "programme": {
            "name": "Hjem til Os",
            "organisation": "Red Barnet",
            "staff_title": "kontaktperson",
        },
        "recipient": {"name": "Mette Holm", "kind": "volunteer_family"},
        "family": {"name": "Familien Holm", "contact_name": "Mette Holm"},
        "child": {"first_name": "Ali"},
        "staff": {"name": "Lene Bak", "phone": "+4520123401", "email": "lene@example.org"},
        "match": {
            "id": 7,
            "start_date": date(2025, 3, 3),
            "end_date": date(2026, 3, 3),
            "visit_weekday": 2,
            "cadence": "weekly",
        },
        "due": start - timedelta(days=1),
        "reminder": 0,
        "visit_day": None,
        "session": {"starts_at": start, "meeting_link": "https://meet.example.org/s1"},
        "short_notice": False,
        "survey_url": "https://venskab.example.org/s/abc",
        "wave": "baseline",
        "call_at": start,
        "caller": "Lene Bak",
        "unsubscribe_url": "https://venskab.example.org/u/abc",
        "bot_hint": None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", type=int, default=2000)
    args = parser.parse_args()
    languages = [lang.code for lang in i18n.languages()]
    print(f"{'template/channel':32} " + " ".join(f"{code:>10}" for code in languages))
    total, seconds = 0, 0.0
    for folder in sorted(p.name for p in TEMPLATES_DIR.iterdir() if p.is_dir()):
        if folder in STAFF_ONLY:
            continue
        for channel in CHANNELS:
            if not available(folder, channel, "en"):
                continue
            rates = []
            for code in languages:
                templates = load(folder, channel, code)
                ctx = context(code)
                render_loaded(templates, ctx)  # compile and warm the catalog once
                began = time.perf_counter()
                for _ in range(args.times):
                    render_loaded(templates, ctx)
                took = time.perf_counter() - began
                total += args.times
                seconds += took
                rates.append(f"{args.times / took:>9.0f}/s")
            print(f"{folder + '/' + channel:32} " + " ".join(rates))
    print(f"\n{total} messages in {seconds:.2f} s: {total / seconds:.0f} a second")


if __name__ == "__main__":
    main()
