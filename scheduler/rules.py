"""When a message may go out: quiet hours per channel and Danish public holidays.

Rules are evaluated on the recipient's wall clock. A send that falls outside its window moves to
the next allowed moment; nothing is dropped here (expiry is the dispatcher's business).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.programme import Programme, QuietHours
from scheduler.timeline import localize
from scheduler.working_days import holiday_name


def allowed_window(quiet: QuietHours, day: datetime) -> tuple[datetime, datetime] | None:
    """The local sending window on ``day``'s date, or None on a public holiday."""
    if holiday_name(day.date()):
        return None
    start, end = quiet.window(weekend=day.weekday() >= 5)
    return (datetime.combine(day.date(), start), datetime.combine(day.date(), end))


def next_allowed(moment: datetime, channel: str, programme: Programme, zone: ZoneInfo) -> datetime:
    """The first moment at or after ``moment`` (aware) when ``channel`` may deliver, in UTC."""
    quiet = programme.quiet_hours_for(channel)
    if quiet is None:
        return moment.astimezone(UTC)
    local = moment.astimezone(zone).replace(tzinfo=None)
    for _ in range(30):  # never more than a few days in practice (Easter, Christmas)
        window = allowed_window(quiet, local)
        if window is not None:
            start, end = window
            if local < start:
                return localize(start, zone).astimezone(UTC)
            if local < end:
                return localize(local, zone).astimezone(UTC)
        local = datetime.combine(local.date() + timedelta(days=1), datetime.min.time())
    raise RuntimeError("no sending window within 30 days; check the quiet hours")


def allowed_on_the_day(
    moment: datetime, channel: str, programme: Programme, zone: ZoneInfo
) -> datetime:
    """Like :func:`next_allowed`, but a moment after the day's window moves back to the window's
    last minute on that same day rather than to the next morning: a visit prompt asks on the
    visit day (a Sunday 19:00 prompt by SMS, whose weekend window ends at 18:00, goes at 17:59).
    A day with no window at all (a public holiday) still moves on to the next allowed day."""
    quiet = programme.quiet_hours_for(channel)
    if quiet is None:
        return moment.astimezone(UTC)
    local = moment.astimezone(zone).replace(tzinfo=None)
    window = allowed_window(quiet, local)
    if window is not None and local >= window[1]:
        return localize(window[1] - timedelta(minutes=1), zone).astimezone(UTC)
    return next_allowed(moment, channel, programme, zone)
