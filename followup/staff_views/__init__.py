"""What the staff web app shows: a staff member's day, the health of the matches she may see, and
one match in full (its year wheel and contact log). Reads only: nothing here writes.

Each function takes the signed-in :class:`~store.models.Staff` and shows only the matches
:func:`followup.staff_auth.visible` allows.
"""

from __future__ import annotations

from followup.staff_views.day import Today, today
from followup.staff_views.detail import WheelPoint, match_detail, rematch_families, year_wheel
from followup.staff_views.health import MatchHealth, match_health
from followup.staff_views.outbox import outbox_row, outbox_rows

__all__ = [
    "MatchHealth",
    "Today",
    "WheelPoint",
    "match_detail",
    "match_health",
    "outbox_row",
    "outbox_rows",
    "rematch_families",
    "today",
    "year_wheel",
]
