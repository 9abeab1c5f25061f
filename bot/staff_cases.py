"""The buttons on a staff alert: acknowledge, snooze (for how long?) and resolve (how did it end?).

Every press is re-checked: the chat must be a staff member's, and the case that member's own
(or the staff member a coordinator or an administrator); anything else answers "this button has
expired" and changes nothing. The alert is edited to say what was done ("Kvitteret af Anna",
"Udsat til torsdag 10. dec.", "Løst: …"); the buttons of the other cases in it stay. After a
case is resolved the bot asks for an optional short note, with a button to skip it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date
from sqlalchemy.orm import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import callbacks as cb
from bot.common import (
    Outcome,
    Reply,
    clear_pending,
    help_text,
    inline,
    set_pending,
    user_locale,
    who_is,
)
from bot.context import BotContext
from followup.alerts import (
    AckError,
    ack_button,
    acknowledge,
    add_resolution_note,
    resolve,
    resolve_button,
    snooze,
    snooze_button,
)
from followup.resolutions import OUTCOMES, SNOOZE_DAYS, outcome_label, outcome_of, snooze_label
from followup.yearplan import BABEL_LOCALES
from scheduler import i18n
from scheduler.channels.base import Button
from store.models import Escalation, EscalationStatus, Staff, StaffRole

NOTE_PENDING = "resolve_note"
# The question "a short note?" catches only the next message written soon after.
NOTE_WAIT = timedelta(hours=1)


def may_act(staff: Staff, escalation: Escalation) -> bool:
    """The case's own staff member, or a coordinator or an administrator."""
    return escalation.staff_id == staff.id or staff.role in (StaffRole.COORDINATOR, StaffRole.ADMIN)


def _fits(action: str, escalation: Escalation) -> bool:
    """Whether the press still fits the case: a button of a settled case has expired."""
    if action == "rn":
        return escalation.status == EscalationStatus.RESOLVED
    if action == "ack":
        return escalation.status == EscalationStatus.OPEN
    return escalation.status != EscalationStatus.RESOLVED


def on_press(ctx: BotContext, update: Update, data: cb.Callback) -> Outcome:
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    message = update.effective_message
    markup = message.reply_markup if message is not None else None
    text = (message.text if message is not None else None) or ""
    with ctx.transaction() as session:
        who = who_is(session, chat_id, update.effective_user)
        staff = who.staff
        locale = staff.locale.value if staff is not None else user_locale(update.effective_user)
        escalation = session.get(Escalation, int(data.fields[0]))
        if (
            staff is None
            or escalation is None
            or not may_act(staff, escalation)
            or not _fits(data.action, escalation)
        ):
            return Outcome(locale, expired=True)
        press = _Press(ctx, session, staff, escalation, markup, text, chat_id)
        return press.do(data)


class _Press:
    """One press on one case's button, inside the handler's transaction."""

    def __init__(
        self,
        ctx: BotContext,
        session: Session,
        staff: Staff,
        escalation: Escalation,
        markup: object,
        text: str,
        chat_id: int,
    ) -> None:
        self.ctx, self.session, self.staff, self.case = ctx, session, staff, escalation
        self.chat_id = chat_id
        self.locale = staff.locale.value
        self.texts = i18n.texts(self.locale)
        self.markup = markup if isinstance(markup, InlineKeyboardMarkup) else None
        self.text = text
        # An alert of several cases names each case on its buttons and in what it says.
        self.numbered = any(
            case not in (None, escalation.id) for case in map(_case_of, _buttons(self.markup))
        )

    def do(self, data: cb.Callback) -> Outcome:
        action, now = data.action, self.ctx.now()
        if action == "ack":
            acknowledge(self.session, self.case.id, self.staff.id, now, "telegram")
            done = self.texts.gettext("Acknowledged by %(name)s.", name=self.staff.name)
            toast = self.texts.gettext("Acknowledged: #%(id)s.", id=self.case.id)
            kept = [b for b in self._own() if _action_of(b) != "ack"]
            return self._done("✓", done, toast, [kept] if kept else [])
        if action == "sn":
            rows = _pairs([self._button(snooze_label(self.texts, d), "sd", d) for d in SNOOZE_DAYS])
            return self._choose(self.texts.gettext("For how long?"), rows)
        if action == "rv":
            rows = [
                [self._button(self.texts.gettext(OUTCOMES[o]), "ro", o.value)] for o in OUTCOMES
            ]
            return self._choose(self.texts.gettext("How did it end?"), rows)
        if action == "bk":
            return Outcome(self.locale, edit=self.text, markup=self._with(self._case_rows()))
        if action == "sd":
            return self._snooze(now, timedelta(days=int(data.fields[1])))
        if action == "ro":
            return self._resolve(now, data.fields[1])
        return self._skip_note()

    # -- what each press does ------------------------------------------------------------------

    def _snooze(self, now: datetime, span: timedelta) -> Outcome:
        until = now + span
        snooze(self.session, self.case.id, self.staff.id, until, now, "telegram")
        local = until.astimezone(ZoneInfo(self.staff.timezone)).date()
        pattern = "EEEE d. MMM" if self.locale == "da" else "EEEE d MMM"
        day = format_date(local, pattern, locale=BABEL_LOCALES.get(self.locale, self.locale))
        done = self.texts.gettext("Snoozed until %(day)s", day=day)  # the day ends with "."
        toast = self.texts.gettext(
            "Snoozed until %(day)s: #%(id)s. We will remind you of it that day.",
            id=self.case.id,
            day=day,
        )
        return self._done("⏸", done, toast, [])

    def _resolve(self, now: datetime, code: str) -> Outcome:
        outcome = outcome_of(code)
        assert outcome is not None  # the callback pattern allows only the outcomes
        resolve(self.session, self.case.id, self.staff.id, now, "", outcome)
        done = self.texts.gettext(
            "Resolved: %(outcome)s.", outcome=outcome_label(self.texts, outcome)
        )
        toast = self.texts.gettext("Resolved: #%(id)s.", id=self.case.id)
        set_pending(self.ctx.data, NOTE_PENDING, now, case=self.case.id)
        result = self._done("✅", done, toast, [])
        ask = self.texts.gettext(
            "Would you like to add a short note on case #%(id)s for your colleagues? Write it "
            "here, or tap Skip.",
            id=self.case.id,
        )
        skip = Button(self.texts.gettext("Skip"), cb.make("rn", self.case.id))
        result.replies.append(Reply(self.chat_id, ask, inline(((skip,),))))
        return result

    def _skip_note(self) -> Outcome:
        pending = self.ctx.data.get("pending")
        if isinstance(pending, dict) and pending.get("case") == self.case.id:
            clear_pending(self.ctx.data)
        said = self.texts.gettext("Case #%(id)s is resolved without a note.", id=self.case.id)
        return Outcome(self.locale, toast=said, edit=said, markup=None)

    # -- the edited alert ----------------------------------------------------------------------

    def _done(self, mark: str, done: str, toast: str, rows: list[list[Any]]) -> Outcome:
        """The alert with a line saying what was done, and its buttons without this case's."""
        line = f"{mark} #{self.case.id}: {done}" if self.numbered else f"{mark} {done}"
        text = f"{self.text}\n\n{line}" if self.text else line
        return Outcome(self.locale, toast=toast, edit=text, markup=self._with(rows))

    def _choose(self, question: str, rows: list[list[Any]]) -> Outcome:
        back = self._button(self.texts.gettext("↩ Back"), "bk")
        return Outcome(
            self.locale, toast=question, edit=self.text, markup=self._with([*rows, [back]])
        )

    def _button(self, label: str, action: str, *fields: object) -> InlineKeyboardButton:
        if self.numbered:
            label = f"#{self.case.id} {label}"
        return InlineKeyboardButton(label, callback_data=cb.make(action, self.case.id, *fields))

    def _own(self) -> list[InlineKeyboardButton]:
        return [b for b in _buttons(self.markup) if _case_of(b) == self.case.id]

    def _case_rows(self) -> list[list[Any]]:
        """The case's buttons as the alert had them, for its state now."""
        case_id, locale = self.case.id, self.locale
        buttons = [snooze_button(case_id, locale, self.numbered)]
        buttons.append(resolve_button(case_id, locale, self.numbered))
        if self.case.status == EscalationStatus.OPEN:
            first = ack_button(case_id, locale) if self.numbered else ack_button(case_id)
            if self.numbered:
                return [_keys([first, *buttons])]
            return [_keys([first]), _keys(buttons)]
        return [_keys(buttons)]

    def _with(self, rows: list[list[Any]]) -> InlineKeyboardMarkup | None:
        """The alert's keyboard with this case's buttons replaced by ``rows``, where they were."""
        kept: list[list[Any]] = []
        placed = False
        for row in self.markup.inline_keyboard if self.markup is not None else ():
            others = [b for b in row if _case_of(b) != self.case.id]
            if len(others) < len(row) and not placed:
                kept.extend(rows)
                placed = True
            if others:
                kept.append(others)
        if not placed:
            kept.extend(rows)
        kept = [row for row in kept if row]
        return InlineKeyboardMarkup(kept) if kept else None


def _keys(buttons: list[Button]) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(b.text, callback_data=b.callback_data) for b in buttons]


def _pairs(buttons: list[InlineKeyboardButton]) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + 2] for i in range(0, len(buttons), 2)]


def _buttons(markup: InlineKeyboardMarkup | None) -> list[InlineKeyboardButton]:
    if markup is None:
        return []
    return [b for row in markup.inline_keyboard for b in row]


def _parsed(button: InlineKeyboardButton) -> cb.Callback | None:
    data = cb.parse(button.callback_data)
    return data if data is not None and data.action in cb.STAFF_ACTIONS else None


def _case_of(button: InlineKeyboardButton) -> int | None:
    data = _parsed(button)
    return int(data.fields[0]) if data is not None else None


def _action_of(button: InlineKeyboardButton) -> str | None:
    data = _parsed(button)
    return data.action if data is not None else None


# -- the note after resolving ------------------------------------------------------------------


def wants_note(pending: dict[str, Any] | None, now: datetime) -> bool:
    """Whether the chat's open question is the note on a case just resolved."""
    if pending is None or pending.get("kind") != NOTE_PENDING:
        return False
    try:
        return now - datetime.fromisoformat(str(pending.get("since"))) <= NOTE_WAIT
    except ValueError:
        return False


def note_from_text(
    session: Session, ctx: BotContext, update: Update, pending: dict[str, Any], text: str
) -> Outcome:
    """The staff member's note on the case they just resolved."""
    chat_id = update.effective_chat.id  # type: ignore[union-attr]
    who = who_is(session, chat_id, update.effective_user)
    staff = who.staff
    case_id = pending.get("case")
    escalation = session.get(Escalation, case_id) if isinstance(case_id, int) else None
    if staff is None or escalation is None or not may_act(staff, escalation):
        return Outcome(who.locale, replies=[Reply(chat_id, help_text(ctx, who, session))])
    texts = i18n.texts(staff.locale.value)
    try:
        add_resolution_note(session, escalation.id, staff.id, text)
    except AckError:
        return Outcome(who.locale, replies=[Reply(chat_id, help_text(ctx, who, session))])
    saved = texts.gettext("Thank you. The note is saved with case #%(id)s.", id=escalation.id)
    return Outcome(staff.locale.value, replies=[Reply(chat_id, saved)])
