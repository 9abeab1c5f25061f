"""Inline keyboards, as channel-neutral :class:`~scheduler.channels.base.Button` rows.

:func:`buttons_for` is the dispatcher's hook: it gives an outbox message its buttons when it goes
out by Telegram (the visit prompt's answers, a sparring invitation's RSVP, a staff alert's
acknowledge). The bot's own replies use the other builders here, so a prompt looks the same
whether the dispatcher or the bot sent it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import object_session

from bot import callbacks as cb
from bot.formatting import day_span, short_day
from followup.child_voice import FACES, voice_surveys
from followup.survey_defs import MOMENT_WAVE
from scheduler import i18n
from scheduler.channels.base import Button
from scheduler.i18n import N_
from scheduler.school_calendar import HOLIDAY_NAMES, SchoolHoliday
from store.models import Audience, Cadence, Match, OutboxMessage, SparringSession

Rows = tuple[tuple[Button, ...], ...]

# Who cancelled a visit, by the code its button carries (and CancelledBy's value).
WHO_CANCELLED = {
    "cf": N_("The child's family"),
    "vf": N_("Us (the volunteer family)"),
    "il": N_("Illness"),
    "ot": N_("Other"),
}
CANCELLED_BY = {
    "child_family": WHO_CANCELLED["cf"],
    "volunteer_family": WHO_CANCELLED["vf"],
    "illness": WHO_CANCELLED["il"],
    "other": WHO_CANCELLED["ot"],
}


def worry_label(locale: str) -> str:
    """The always-visible button a family taps when something worries them."""
    return i18n.texts(locale).gettext("⚠️ I'm worried about something")


def worry_labels() -> set[str]:
    """The worry button in every language: a reply-keyboard press is recognised whatever the
    family's language was when the keyboard was sent."""
    return {worry_label(language.code) for language in i18n.languages()}


def worry_row(match_id: int, locale: str) -> tuple[Button, ...]:
    return (Button(worry_label(locale), cb.make("wo", match_id)),)


def visit_buttons(match_id: int, day: date, cadence: str, locale: str) -> Rows:
    """Visited / cancelled / moved, or for "2-3 times a month" how many times they met."""
    code = cb.day_code(day)
    if cadence == Cadence.TWO_THREE_MONTHLY.value:
        counts = tuple(
            Button("4+" if n == 4 else str(n), cb.make("vn", match_id, code, n)) for n in range(5)
        )
        return (counts, worry_row(match_id, locale))
    texts = i18n.texts(locale)
    return (
        (
            Button(texts.gettext("✅ Visited"), cb.make("v", match_id, code, "y")),
            Button(texts.gettext("❌ Cancelled"), cb.make("v", match_id, code, "c")),
            Button(texts.gettext("📅 Moved"), cb.make("v", match_id, code, "m")),
        ),
        worry_row(match_id, locale),
    )


def mood_buttons(match_id: int, ref: str, locale: str) -> Rows:
    """1-5 for how it went (``ref``: ``d<yyyymmdd>`` after a visit, ``t<minutes>`` any time)."""
    faces = {1: "😟", 2: "🙁", 3: "😐", 4: "🙂", 5: "😄"}
    moods = tuple(Button(f"{n} {faces[n]}", cb.make("ck", match_id, ref, n)) for n in range(1, 6))
    return (moods, worry_row(match_id, locale))


def child_voice_start(match_id: int, wave: str, locale: str) -> Rows:
    start = i18n.texts(locale).gettext("Start the questions")
    return ((Button(start, cb.make("cv", match_id, wave, 0, 0)),),)


def child_voice_faces(match_id: int, wave: str, number: int) -> Rows:
    """😟 🙁 😐 🙂 😄 (1-5) for the child's answer to question ``number``."""
    return (tuple(Button(FACES[n], cb.make("cv", match_id, wave, number, n)) for n in range(1, 6)),)


def no_thanks(match_id: int, locale: str) -> Rows:
    return ((Button(i18n.texts(locale).gettext("No thanks"), cb.make("x", match_id)),),)


def who_cancelled_buttons(match_id: int, day: date, locale: str) -> Rows:
    code = cb.day_code(day)
    texts = i18n.texts(locale)
    items = [
        Button(texts.gettext(WHO_CANCELLED[who]), cb.make("cb", match_id, code, who))
        for who in ("cf", "vf", "il", "ot")
    ]
    return (tuple(items[:2]), tuple(items[2:]))


def move_buttons(match_id: int, day: date, locale: str) -> Rows:
    """The seven days after the planned day: most visits move a day or two."""
    code = cb.day_code(day)
    days = [day + timedelta(days=n) for n in range(1, 8)]
    items = [
        Button(short_day(d, locale), cb.make("mv", match_id, code, cb.day_code(d))) for d in days
    ]
    return (tuple(items[:4]), tuple(items[4:]))


def rsvp_buttons(match_id: int, session_id: int, locale: str) -> Rows:
    texts = i18n.texts(locale)
    return (
        (
            Button(texts.gettext("👍 Yes, we'll come"), cb.make("rs", match_id, session_id, "y")),
            Button(texts.gettext("🤔 Maybe"), cb.make("rs", match_id, session_id, "m")),
            Button(texts.gettext("👎 No"), cb.make("rs", match_id, session_id, "n")),
        ),
    )


def stop_buttons(match_id: int, locale: str) -> Rows:
    texts = i18n.texts(locale)
    return (
        (Button(texts.gettext("Yes, we want to stop"), cb.make("st", match_id, "y")),),
        (Button(texts.gettext("No, we'll continue"), cb.make("st", match_id, "n")),),
    )


def holiday_pause_buttons(match_id: int, holiday: SchoolHoliday, locale: str) -> Rows:
    """One button: pause the visit messages for the school holiday (by its first day)."""
    words = i18n.texts(locale)
    label = words.gettext(
        "Pause for the %(holiday)s, %(days)s",
        holiday=words.gettext(HOLIDAY_NAMES[holiday.kind]),
        days=day_span(holiday.first, holiday.last, locale),
    )
    return ((Button(label, cb.make("ph", match_id, cb.day_code(holiday.first))),),)


def holiday_question_buttons(match_id: int, first: date, locale: str) -> Rows:
    """Do visits go on in the school holiday that starts on ``first``?"""
    code = cb.day_code(first)
    words = i18n.texts(locale)
    return (
        (Button(words.gettext("Yes, the visits go on"), cb.make("hq", match_id, code, "y")),),
        (Button(words.gettext("No, we take a break"), cb.make("hq", match_id, code, "n")),),
    )


def pick_buttons(matches: Iterable[Match], what: str) -> Rows:
    return tuple(
        (Button(f"{m.child.first_name} ({m.programme.name})", cb.make("pk", m.id, what)),)
        for m in matches
    )


def language_buttons() -> Rows:
    return ((Button("Dansk", cb.make("lg", "da")), Button("English", cb.make("lg", "en"))),)


def ack_buttons(escalation_ids: Iterable[int], locale: str) -> Rows:
    texts = i18n.texts(locale)
    return tuple(
        (Button(texts.gettext("✓ Acknowledge #%(id)s", id=i), cb.make("ack", i)),)
        for i in escalation_ids
    )


def buttons_for(row: OutboxMessage, match: Match) -> Rows:
    """The dispatcher's hook: buttons for an outbox message that goes out by Telegram."""
    locale = row.locale.value
    context = row.context or {}
    if row.kind == "visit_prompt" and row.audience == Audience.VOLUNTEER_FAMILY:
        try:
            day = date.fromisoformat(row.occurrence_key.split(":", 1)[0])
        except ValueError:
            return ()
        cadence = str(context.get("cadence") or match.cadence.value)
        return visit_buttons(match.id, day, cadence, locale)
    if row.kind == "holiday_question" and row.audience == Audience.VOLUNTEER_FAMILY:
        try:
            first = date.fromisoformat(str(context.get("holiday_first")))
        except ValueError:
            return ()
        return holiday_question_buttons(match.id, first, locale)
    if row.kind == "survey" and row.audience == Audience.VOLUNTEER_FAMILY:
        wave = str(context.get("wave") or "")
        if context.get("survey") in voice_surveys() and MOMENT_WAVE.fullmatch(wave):
            return child_voice_start(match.id, wave, locale)
        return ()
    if row.kind == "sparring_invite" and row.audience == Audience.VOLUNTEER_FAMILY:
        session_id = context.get("session_id") or _session_id(match, context)
        return rsvp_buttons(match.id, int(session_id), locale) if session_id else ()
    return ()


def _session_id(match: Match, context: dict[str, object]) -> int | None:
    """Rows planned before sessions had ids: find the session by its start."""
    session = object_session(match)
    starts = context.get("session_starts_at")
    if session is None or not isinstance(starts, str):
        return None
    try:
        moment = datetime.fromisoformat(starts)
    except ValueError:
        return None
    return session.scalars(
        select(SparringSession.id).where(
            SparringSession.programme_id == match.programme_id,
            SparringSession.region.in_(["", match.region]),
            SparringSession.starts_at == moment,
        )
    ).first()
