"""The volunteer family's side of the bot: linking, visits, check-ins, worries, plan, pause, stop.

Each function reads the update, does its work through ``scheduler`` inside one transaction and
returns an :class:`~bot.common.Outcome`; :mod:`bot.app` sends it. Every button names the match
it is about, and every press looks the match up again and checks that this chat's family owns it
(:func:`~bot.common.owned_match`): forged, foreign or stale data gets "this button has expired"
and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy.orm import Session
from telegram import Update

from bot import buttons as kb
from bot import callbacks as cb
from bot.common import (
    Markup,
    Outcome,
    Reply,
    Who,
    clear_pending,
    family_matches,
    get_pending,
    inline,
    owned_match,
    set_pending,
    staff_name,
    user_locale,
    who_is,
    worry_keyboard,
)
from bot.context import BotContext
from bot.formatting import long_day, next_things, parse_day, parse_period, plan_text
from bot.texts import all_variants, t
from scheduler import visits
from scheduler.invites import InviteError, redeem_invite
from scheduler.matches import facts_for, local_today
from scheduler.sparring import SparringError, record_rsvp
from scheduler.visits import VisitError
from store.models import (
    RSVP,
    CancelledBy,
    Locale,
    Match,
    MatchStatus,
    Staff,
    VisitStatus,
    VolunteerFamily,
)

# An ad-hoc check-in's buttons work for a week, and only until the next check-in.
CHECKIN_BUTTON_LIFETIME = timedelta(days=7)
WORRY_TEXTS = all_variants("btn_worry")
WHO_CANCELLED = {
    "cf": CancelledBy.CHILD_FAMILY,
    "vf": CancelledBy.VOLUNTEER_FAMILY,
    "il": CancelledBy.ILLNESS,
    "ot": CancelledBy.OTHER,
}
RSVP_ANSWERS = {"y": RSVP.YES, "m": RSVP.MAYBE, "n": RSVP.NO}

# What a command does once it knows the match: (session, context, chat, match, locale).
Action = Callable[[Session, BotContext, int, Match, str], Outcome]


def _actor(match: Match) -> str:
    """Who did it, for the audit trail: the match's volunteer family."""
    return f"family:{match.volunteer_family_id}"


def _today(ctx: BotContext, match: Match) -> date:
    return local_today(ctx.now(), match.volunteer_family.timezone or "Europe/Copenhagen")


def _reply(chat_id: int, locale: str, text: str, markup: Markup | None = None) -> Outcome:
    return Outcome(locale=locale, replies=[Reply(chat_id, text, markup)])


def help_text(who: Who, session: Session) -> str:
    parts = []
    if who.family is not None:
        matches = family_matches(session, who.family, live_only=False)
        staff = staff_name(matches[0], who.locale) if matches else t("your_case_lead", who.locale)
        parts.append(t("help_family", who.locale, staff=staff, worry=t("btn_worry", who.locale)))
    if who.staff is not None:
        parts.append(t("help_staff", who.staff.locale.value))
    return "\n\n".join(parts) if parts else t("help_unlinked", who.locale)


# -- linking -----------------------------------------------------------------------------------


def start(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    token = ctx.args[0] if ctx.args else None
    clear_pending(ctx.data)
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if token is None:
            if not who.linked:
                return _reply(chat_id, who.locale, t("help_unlinked", who.locale))
            return _reply(
                chat_id, who.locale, f"{t('welcome_back', who.locale)}\n\n{help_text(who, session)}"
            )
        try:
            linked = redeem_invite(session, token, chat_id, ctx.now())
        except InviteError as exc:
            return _reply(chat_id, who.locale, t(f"invite_{exc.reason}", who.locale))
        if linked.kind == "staff":
            staff = session.get(Staff, linked.subject_id)
            assert staff is not None
            locale = staff.locale.value
            text = t("linked_staff", locale, name=staff.name, help=t("help_staff", locale))
            return _reply(chat_id, locale, text)
        family = session.get(VolunteerFamily, linked.subject_id)
        assert family is not None
        return _linked_family(session, ctx, chat_id, family)


def _linked_family(
    session: Session, ctx: BotContext, chat_id: int, family: VolunteerFamily
) -> Outcome:
    locale = family.locale.value
    matches = family_matches(session, family, live_only=False)
    first = matches[0] if matches else None
    welcome = t(
        "linked_family",
        locale,
        contact=family.contact_name,
        family=family.name,
        organisation=(first.programme.organisation or first.programme.name)
        if first
        else t("our_organisation", locale),
        child=first.child.first_name if first else "",
        staff=staff_name(first, locale) if first else t("your_case_lead", locale),
    )
    outcome = _reply(chat_id, locale, welcome, worry_keyboard(locale))
    for match in [m for m in matches if m.status != MatchStatus.ENDED] or matches[:1]:
        plan = _plan_text(session, ctx, match, locale)
        if plan:
            outcome.replies.append(Reply(chat_id, plan))
    return outcome


# -- commands that are about one match ---------------------------------------------------------


def _plan_text(session: Session, ctx: BotContext, match: Match, locale: str) -> str | None:
    programme = ctx.services.programmes.get(match.programme.slug)
    if programme is None:
        return None
    facts = facts_for(session, match, programme)
    title = t(
        "plan_title",
        locale,
        child=match.child.first_name,
        family=match.volunteer_family.name,
        programme=programme.name,
    )
    return plan_text(programme, facts, ctx.now(), locale, title, t("plan_legend", locale))


def do_plan(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    text = _plan_text(session, ctx, match, locale)
    return _reply(chat_id, locale, text or t("no_match", locale))


def do_next(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    programme = ctx.services.programmes.get(match.programme.slug)
    if programme is None:
        return _reply(chat_id, locale, t("no_match", locale))
    visit, event = next_things(programme, facts_for(session, match, programme), ctx.now(), locale)
    lines = []
    if visit is not None:
        lines.append(t("next_visit", locale, date=long_day(visit, locale)))
    elif match.status == MatchStatus.PAUSED:
        lines.append(t("next_visit_paused", locale))
    if event is not None:
        lines.append(t("next_event", locale, what=event[0], date=long_day(event[1], locale)))
    return _reply(chat_id, locale, "\n".join(lines) or t("next_nothing", locale))


def do_checkin(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str
) -> Outcome:
    ref = "t" + cb.moment_code(ctx.now())
    markup = inline(kb.mood_buttons(match.id, ref, locale))
    return _reply(chat_id, locale, t("checkin_ask", locale, child=match.child.first_name), markup)


def do_pause(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return _reply(chat_id, locale, t("no_match", locale))
    text = " ".join(ctx.args or [])
    if text:
        return _pause_from_text(session, ctx, chat_id, match, locale, text)
    set_pending(ctx.data, "pause", ctx.now(), match=match.id)
    return _reply(chat_id, locale, t("pause_ask", locale))


def do_stop(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return _reply(chat_id, locale, t("no_match", locale))
    text = t("stop_confirm", locale, child=match.child.first_name, staff=staff_name(match, locale))
    return _reply(chat_id, locale, text, inline(kb.stop_buttons(match.id, locale)))


def do_worry(session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str) -> Outcome:
    now = ctx.now()
    checkin, _ = visits.raise_worry(session, match, now=now, actor=_actor(match))
    set_pending(ctx.data, "worry", now, match=match.id, checkin=checkin.id)
    return _reply(chat_id, locale, t("worry_ask", locale, staff=staff_name(match, locale)))


ACTIONS: dict[str, Action] = {
    "ci": do_checkin,
    "pl": do_plan,
    "nx": do_next,
    "pa": do_pause,
    "st": do_stop,
    "wo": do_worry,
}
# These still make sense after the match has ended; the others need an ongoing match.
_AFTER_END = {"pl", "nx", "wo"}


def with_match(what: str) -> Callable[[BotContext, Update], Outcome]:
    """A command handler that finds the family's match (asking which one if there are several)."""

    def handle(ctx: BotContext, update: Update) -> Outcome:
        chat_id = update.effective_chat.id  # type: ignore[union-attr]
        clear_pending(ctx.data)
        with ctx.transaction() as session:
            who = who_is(session, chat_id, update.effective_user)
            if who.family is None:
                return _reply(chat_id, who.locale, help_text(who, session))
            return _for_family(session, ctx, chat_id, who, what)

    return handle


def _for_family(session: Session, ctx: BotContext, chat_id: int, who: Who, what: str) -> Outcome:
    assert who.family is not None
    matches = family_matches(session, who.family, live_only=True)
    if not matches and what in _AFTER_END:
        matches = family_matches(session, who.family, live_only=False)[:1]
    if not matches:
        return _reply(chat_id, who.locale, t("no_match", who.locale))
    if len(matches) > 1:
        markup = inline(kb.pick_buttons(matches, what))
        return _reply(chat_id, who.locale, t("choose_match", who.locale), markup)
    return ACTIONS[what](session, ctx, chat_id, matches[0], who.locale)


# -- free text ---------------------------------------------------------------------------------


def on_text(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    text = update.effective_message.text or ""  # type: ignore[union-attr]
    now = ctx.now()
    with ctx.transaction() as session:
        pending = get_pending(ctx.data, now)
        if pending is not None and text.strip() not in WORRY_TEXTS:
            # The answer to the bot's last question: the match (and with it the family) in one
            # query, which also checks that this chat still owns it.
            clear_pending(ctx.data)
            match = owned_match(session, chat_id, _int(pending.get("match")))
            if match is not None:
                locale = match.volunteer_family.locale.value
                return _answer_pending(session, ctx, chat_id, match, locale, pending, text)
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return _reply(chat_id, who.locale, help_text(who, session))
        if text.strip() in WORRY_TEXTS:
            clear_pending(ctx.data)
            return _for_family(session, ctx, chat_id, who, "wo")
        if not visits.clean_text(text):
            return _reply(chat_id, who.locale, t("non_text", who.locale))
        matches = family_matches(session, who.family, live_only=False)
        if not matches:
            return _reply(chat_id, who.locale, t("no_match", who.locale))
        match = matches[0]
        visits.message_from_family(session, match, text, now=now, actor=_actor(match))
        return _reply(
            chat_id,
            who.locale,
            t("message_passed_on", who.locale, staff=staff_name(match, who.locale)),
        )


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _answer_pending(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    pending: dict[str, object],
    text: str,
) -> Outcome:
    """The answer to the question the bot asked last (the pending state, now cleared)."""
    kind = pending.get("kind")
    now = ctx.now()
    actor = _actor(match)
    staff = staff_name(match, locale)
    day = cb.parse_day(str(pending.get("day", "")))
    try:
        if kind == "checkin":
            checkin_id = _int(pending.get("checkin"))
            visits.add_checkin_text(session, checkin_id or 0, match, text, actor)
            return _reply(chat_id, locale, t("checkin_text_saved", locale, staff=staff))
        if kind == "worry":
            checkin_id = _int(pending.get("checkin"))
            visits.add_worry_text(session, checkin_id or 0, match, text, now=now, actor=actor)
            phone = match.staff.phone if match.staff is not None else None
            phone_text = t("worry_phone", locale, phone=phone) if phone else ""
            return _reply(chat_id, locale, t("worry_saved", locale, staff=staff, phone=phone_text))
        if kind == "cancel_note" and day is not None:
            visits.add_visit_note(session, match, day, text, actor)
            return _reply(chat_id, locale, t("note_saved", locale))
        if kind == "move" and day is not None:
            new_day = parse_day(text, day)
            if new_day is None:
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return _reply(chat_id, locale, t("bad_date", locale))
            try:
                visits.set_moved_to(session, match, day, new_day, actor)
            except VisitError as exc:
                if exc.reason != "date":
                    raise
                set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
                return _reply(chat_id, locale, t("bad_date", locale))
            return _reply(
                chat_id, locale, t("visit_moved_saved", locale, date=long_day(new_day, locale))
            )
        if kind == "pause":
            return _pause_from_text(session, ctx, chat_id, match, locale, text)
        if kind == "stop_reason":
            visits.add_stop_reason(session, match, text, now=now, actor=actor)
            return _reply(chat_id, locale, t("stop_reason_saved", locale, staff=staff))
    except VisitError:
        pass
    # The question no longer fits (answered elsewhere meanwhile): treat it as a message.
    visits.message_from_family(session, match, text, now=now, actor=actor)
    return _reply(chat_id, locale, t("message_passed_on", locale, staff=staff))


def _pause_from_text(
    session: Session, ctx: BotContext, chat_id: int, match: Match, locale: str, text: str
) -> Outcome:
    today = _today(ctx, match)
    period = parse_period(text, today)
    if period is None:
        set_pending(ctx.data, "pause", ctx.now(), match=match.id)
        return _reply(chat_id, locale, t("pause_bad", locale))
    first, last = period
    try:
        visits.family_pause(session, match, first, last, today=today, actor=_actor(match))
    except VisitError as exc:
        if exc.reason == "overlap":
            return _reply(
                chat_id, locale, t("pause_overlap", locale, staff=staff_name(match, locale))
            )
        if exc.reason == "state":
            return _reply(chat_id, locale, t("no_match", locale))
        set_pending(ctx.data, "pause", ctx.now(), match=match.id)
        return _reply(chat_id, locale, t("pause_invalid", locale))
    return _reply(
        chat_id,
        locale,
        t("pause_saved", locale, first=long_day(first, locale), last=long_day(last, locale)),
    )


def on_other(ctx: BotContext, update: Update) -> Outcome:
    """A sticker, photo, location...: nothing is stored; the family is told to write text."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if who.family is None:
            return _reply(chat_id, who.locale, help_text(who, session))
        return _reply(chat_id, who.locale, t("non_text", who.locale))


def on_help(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        return _reply(chat_id, who.locale, help_text(who, session))


def on_cancel(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return _reply(chat_id, who.locale, t("help_unlinked", who.locale))
    clear_pending(ctx.data)
    return _reply(chat_id, who.locale, t("cancelled_input", who.locale))


def on_language(ctx: BotContext, update: Update) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        if not who.linked:
            return _reply(chat_id, who.locale, t("help_unlinked", who.locale))
    return _reply(chat_id, who.locale, t("language_ask", who.locale), inline(kb.language_buttons()))


# -- buttons -----------------------------------------------------------------------------------


def on_button(ctx: BotContext, update: Update, data: cb.Callback) -> Outcome:
    """A family's button press; the data has parsed, nothing else is trusted yet."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    locale = user_locale(update.effective_user)
    try:
        with ctx.transaction() as session:
            match = owned_match(session, chat_id, data.match_id)
            handler = _BUTTONS.get(data.action)
            if match is None or handler is None:
                who = who_is(session, chat_id, update.effective_user)
                if data.action == "lg" and who.linked:
                    return _language(session, chat_id, who, data.fields[0])
                return _expired(who.locale)
            locale = match.volunteer_family.locale.value
            return handler(session, ctx, chat_id, match, locale, data, update)
    except (VisitError, SparringError):
        # Raised before anything was written, or rolled back with the transaction.
        return _expired(locale)


ButtonHandler = Callable[[Session, BotContext, int, Match, str, cb.Callback, Update], Outcome]


def _expired(locale: str) -> Outcome:
    return Outcome(locale=locale, expired=True)


def _visit(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day = cb.parse_day(data.fields[0])
    if day is None:
        return _expired(locale)
    choice = data.fields[1]
    now = ctx.now()
    common = {"today": _today(ctx, match), "now": now, "actor": _actor(match)}
    if data.action == "vn":
        times = int(choice)
        visits.answer_visit(session, match, day, VisitStatus.VISITED, times=times, **common)  # type: ignore[arg-type]
        if times == 0:
            return Outcome(locale, edit=t("visit_none", locale, child=match.child.first_name))
        label = "4+" if times == 4 else str(times)
        return Outcome(
            locale,
            edit=t("visit_times", locale, times=label),
            markup=inline(kb.mood_buttons(match.id, "d" + cb.day_code(day), locale)),
        )
    status = {"y": VisitStatus.VISITED, "c": VisitStatus.CANCELLED, "m": VisitStatus.MOVED}[choice]
    visits.answer_visit(session, match, day, status, **common)  # type: ignore[arg-type]
    when = long_day(day, locale)
    if status == VisitStatus.VISITED:
        return Outcome(
            locale,
            edit=t("visit_visited", locale, date=when),
            markup=inline(kb.mood_buttons(match.id, "d" + cb.day_code(day), locale)),
        )
    if status == VisitStatus.CANCELLED:
        return Outcome(
            locale,
            edit=t("visit_cancelled", locale, date=when),
            markup=inline(kb.who_cancelled_buttons(match.id, day, locale)),
        )
    set_pending(ctx.data, "move", now, match=match.id, day=cb.day_code(day))
    return Outcome(
        locale, edit=t("visit_moved", locale), markup=inline(kb.move_buttons(match.id, day, locale))
    )


def _cancelled_by(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day = cb.parse_day(data.fields[0])
    if day is None:
        return _expired(locale)
    visits.set_cancelled_by(session, match, day, WHO_CANCELLED[data.fields[1]], _actor(match))
    set_pending(ctx.data, "cancel_note", ctx.now(), match=match.id, day=cb.day_code(day))
    return Outcome(
        locale, edit=t("visit_cancelled_why", locale), markup=inline(kb.no_thanks(match.id, locale))
    )


def _moved_to(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    day, new_day = cb.parse_day(data.fields[0]), cb.parse_day(data.fields[1])
    if day is None or new_day is None:
        return _expired(locale)
    visits.set_moved_to(session, match, day, new_day, _actor(match))
    clear_pending(ctx.data)
    return Outcome(locale, edit=t("visit_moved_saved", locale, date=long_day(new_day, locale)))


def _mood(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    ref, mood = data.fields[0], int(data.fields[1])
    now = ctx.now()
    visit = None
    if ref.startswith("d"):
        day = cb.parse_day(ref[1:])
        visit = visits.visit_on(session, match.id, day) if day else None
        if visit is None or visit.status != VisitStatus.VISITED:
            return _expired(locale)
    else:
        shown = cb.parse_moment(ref[1:])
        if (
            shown is None
            or shown > now + timedelta(minutes=1)
            or now - shown > CHECKIN_BUTTON_LIFETIME
        ):
            return _expired(locale)
        if visits.checked_in_since(session, match.id, shown):
            return _expired(locale)
    checkin = visits.record_checkin(session, match, mood, now=now, actor=_actor(match), visit=visit)
    set_pending(ctx.data, "checkin", now, match=match.id, checkin=checkin.id)
    return Outcome(
        locale,
        edit=t("checkin_saved", locale, mood=mood),
        markup=inline(kb.no_thanks(match.id, locale)),
    )


def _worry(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    return do_worry(session, ctx, chat_id, match, locale)


def _no_thanks(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    pending = get_pending(ctx.data, ctx.now())
    if pending is not None and pending.get("match") == match.id:
        clear_pending(ctx.data)
    return Outcome(locale, toast=t("done", locale), keep_message=False)


def _rsvp(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    session_id, answer = int(data.fields[0]), RSVP_ANSWERS[data.fields[1]]
    record_rsvp(session, match, session_id, answer, now=ctx.now(), actor=_actor(match))
    saved = t("rsvp_saved", locale, answer=t(f"rsvp_{answer.value}", locale))
    message = update.effective_message
    original = (message.text or "") if message is not None else ""
    original = original.split("\n\n✔ ", 1)[0].strip()
    text = f"{original}\n\n✔ {saved}" if original else f"✔ {saved}"
    return Outcome(
        locale,
        toast=saved[:200],
        edit=text,
        markup=inline(kb.rsvp_buttons(match.id, session_id, locale)),
    )


def _stop(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    if match.status == MatchStatus.ENDED:
        return _expired(locale)
    if data.fields[0] == "n":
        return Outcome(locale, edit=t("stop_kept", locale))
    now = ctx.now()
    visits.family_wants_to_stop(
        session, match, today=_today(ctx, match), now=now, actor=_actor(match)
    )
    set_pending(ctx.data, "stop_reason", now, match=match.id)
    return Outcome(
        locale,
        edit=t("stop_done", locale, staff=staff_name(match, locale)),
        markup=inline(kb.no_thanks(match.id, locale)),
    )


def _pick(
    session: Session,
    ctx: BotContext,
    chat_id: int,
    match: Match,
    locale: str,
    data: cb.Callback,
    update: Update,
) -> Outcome:
    what = data.fields[0]
    if match.status == MatchStatus.ENDED and what not in _AFTER_END:
        return _expired(locale)
    outcome = ACTIONS[what](session, ctx, chat_id, match, locale)
    outcome.keep_message = False
    return outcome


def _language(session: Session, chat_id: int, who: Who, code: str) -> Outcome:
    locale = Locale(code)
    if who.family is not None:
        who.family.locale = locale
    if who.staff is not None:
        who.staff.locale = locale
    markup = worry_keyboard(locale.value) if who.family is not None else None
    outcome = _reply(chat_id, locale.value, t("language_set", locale.value), markup)
    outcome.keep_message = False
    return outcome


_BUTTONS: dict[str, ButtonHandler] = {
    "v": _visit,
    "vn": _visit,
    "cb": _cancelled_by,
    "mv": _moved_to,
    "ck": _mood,
    "wo": _worry,
    "x": _no_thanks,
    "rs": _rsvp,
    "st": _stop,
    "pk": _pick,
}
