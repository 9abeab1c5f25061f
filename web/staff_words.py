"""The staff pages' words that a page or a handler picks by a key: a stored value (a match's
status, a message's status, a role), a flash message named in a redirect, a chart's labels.

The words themselves are message ids in the catalogs (:mod:`scheduler.i18n`); templates write
every other word directly as ``{{ _("...") }}``. ``word(locale, key, **values)`` is the word
in one language, with ``%(name)s`` values filled in; an unknown key (a forged ``?error=``) gives
the empty string, never the key itself.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from scheduler import i18n, outbox


@lru_cache(maxsize=32)
def labels(texts: i18n.Texts) -> dict[str, str]:
    """Every keyed word in the language of ``texts`` (cached per catalog: ``i18n.configure``
    makes new ``Texts`` objects, so an organisation's overrides are read again)."""
    return {
        "bad_date": texts.gettext("The date could not be read. Please write it as YYYY-MM-DD."),
        "bad_time": texts.gettext("The time could not be read."),
        "far_date": texts.gettext(
            "That date is more than two years from today (or before 2000). Please check the year."
        ),
        "certificate_child_certificate_on": texts.gettext("child record certificate"),
        "certificate_criminal_record_on": texts.gettext("criminal record certificate"),
        "channel_telegram": texts.pgettext("channel", "Telegram"),
        "channel_sms": texts.pgettext("channel", "SMS"),
        "channel_email": texts.pgettext("channel", "Email"),
        "channel_voice": texts.pgettext("channel", "Call"),
        "chart_funnel": texts.gettext("Surveys: per cent completed after each step"),
        "chart_retention": texts.gettext("Matches still running on their first anniversary"),
        "chart_step": texts.gettext("Reminder %(step)s"),
        "chart_step_0": texts.gettext("Invitation"),
        "chart_visits": texts.gettext("Confirmed visits per week"),
        "contact_call": texts.pgettext("contact", "Phone call"),
        "contact_family": texts.pgettext("contact", "The volunteer family"),
        "contact_meeting": texts.pgettext("contact", "Meeting"),
        "contact_parent": texts.pgettext("contact", "The parent or contact person"),
        "contact_refused": texts.gettext(
            "The contact could not be recorded: the date is in the future or before the "
            "match started."
        ),
        "contact_visit": texts.pgettext("contact", "Visit"),
        "done_ack": texts.gettext("The case is acknowledged."),
        "waiting_volunteer_family": texts.pgettext("waiting", "volunteer family"),
        "waiting_referral": texts.pgettext("waiting", "child"),
        "done_cancel": texts.gettext("The message is cancelled."),
        "done_consent": texts.gettext("The consent is saved."),
        "done_contact": texts.gettext("The contact is recorded."),
        "done_edit": texts.gettext("The text is saved."),
        "done_end": texts.gettext("The match has ended."),
        "done_note": texts.gettext("The note is saved."),
        "done_pause": texts.gettext("The match is paused. Its plan follows at the next run."),
        "done_reschedule": texts.gettext("The message is rescheduled."),
        "done_resolve": texts.gettext("The case is resolved."),
        "done_resume": texts.gettext("The match is resumed."),
        "done_send_now": texts.gettext("The message goes out at the next run (within a minute)."),
        "done_snooze": texts.gettext("The case is snoozed until %(until)s."),
        "done_sparring": texts.gettext(
            "The session is created. The families are invited at the next run."
        ),
        "done_start": texts.gettext(
            "The start date is corrected. The plan follows at the next run."
        ),
        "done_task": texts.gettext("The outcome is saved."),
        "ended_by_child_family": texts.pgettext("ended by", "the child's family"),
        "ended_by_organisation": texts.pgettext("ended by", "the organisation"),
        "ended_by_term": texts.pgettext("ended by", "the year ran out as planned"),
        "ended_by_volunteer_family": texts.pgettext("ended by", "the volunteer family"),
        "ended_by_unreachable": texts.pgettext("ended by", "the family could not be reached"),
        "why_completed": texts.pgettext("end reason", "the course is completed"),
        "why_no_time": texts.pgettext(
            "end reason", "no time (work, illness, changes in the family)"
        ),
        "why_moved": texts.pgettext("end reason", "moved"),
        "why_relation": texts.pgettext("end reason", "the relation did not work"),
        "why_child_situation": texts.pgettext(
            "end reason", "changes in the child's life (e.g. placement)"
        ),
        "why_concern": texts.pgettext("end reason", "concern for the child"),
        "why_no_contact": texts.pgettext("end reason", "no contact"),
        "why_other": texts.pgettext("end reason", "other"),
        "need_family": texts.gettext("Choose a free volunteer family for the re-match."),
        "done_rematch": texts.gettext(
            "The re-match is created. The new match's plan follows at the next run."
        ),
        "health_amber": texts.pgettext("match health", "Watch"),
        "health_green": texts.pgettext("match health", "Good"),
        "health_red": texts.pgettext("match health", "Urgent"),
        "log_call": texts.pgettext("contact log", "Task"),
        "log_message_in": texts.pgettext("contact log", "Message in"),
        "log_message_out": texts.pgettext("contact log", "Message out"),
        "log_note": texts.pgettext("contact log", "Note"),
        "log_visit": texts.pgettext("contact log", "Visit"),
        "mode_live": texts.pgettext("outbox mode", "sending"),
        "mode_sandbox": texts.pgettext("outbox mode", "sandbox (sends nothing)"),
        "nav_import": texts.gettext("Import"),
        "nav_matches": texts.gettext("Matches"),
        "nav_outbox": texts.gettext("Outbox"),
        "nav_reports": texts.gettext("Reports"),
        "nav_sandbox": texts.gettext("Sandbox"),
        "nav_sparring": texts.gettext("Sparring"),
        "nav_surveys": texts.gettext("Surveys"),
        "nav_today": texts.gettext("Today"),
        "need_note": texts.gettext("Please write briefly what the outcome was."),
        "need_outcome": texts.gettext("Please choose how the case ended before resolving it."),
        "need_reason": texts.gettext("Please say who ended the match and why."),
        "not_found": texts.gettext("Page not found"),
        "not_found_text": texts.gettext("It does not exist, or you do not have access to it."),
        "outcome_acknowledged": texts.pgettext("outcome", "acknowledged"),
        "outcome_cancelled": texts.pgettext("outcome", "cancelled"),
        "outcome_delivered": texts.pgettext("outcome", "delivered"),
        "outcome_done": texts.pgettext("outcome", "Done"),
        "outcome_expired": texts.pgettext("outcome", "expired"),
        "outcome_failed": texts.pgettext("outcome", "failed"),
        "outcome_missed": texts.pgettext("outcome", "not answered"),
        "outcome_moved": texts.pgettext("outcome", "moved"),
        "outcome_not_reached": texts.pgettext("outcome", "Not reached"),
        "outcome_note": texts.pgettext("outcome", "Outcome"),
        "outcome_open": texts.pgettext("outcome", "open"),
        "outcome_planned": texts.pgettext("outcome", "planned"),
        "outcome_rescheduled": texts.pgettext("outcome", "Rescheduled"),
        "outcome_resolved": texts.pgettext("outcome", "resolved"),
        "outcome_sending": texts.pgettext("outcome", "sending"),
        "outcome_sent": texts.pgettext("outcome", "sent"),
        "outcome_unknown": texts.pgettext("outcome", "unknown"),
        "outcome_visited": texts.pgettext("outcome", "visited"),
        "recipient_contact_person": texts.pgettext("recipient", "parent/contact person"),
        "recipient_volunteer_family": texts.pgettext("recipient", "the volunteer family"),
        "refused": texts.gettext(
            "That could not be done: the case, task or message changed meanwhile. Please "
            "look again."
        ),
        "report_child-voice": texts.gettext("The child's voice: smileys at 3 and 9 months"),
        "report_codebook": texts.gettext("Codebook: what each column means"),
        "report_followup": texts.gettext("Follow-up: contacts, tasks and cases"),
        "report_invoices": texts.gettext("Invoices (Mentorbarn)"),
        "report_matches": texts.gettext(
            "Matches: started, running, ended, still running after a year"
        ),
        "report_stability": texts.gettext("Stability: visits per month"),
        "report_surveys": texts.gettext("Surveys: answers after each reminder"),
        "report_waiting": texts.gettext("Waiting list: families and children waiting"),
        "reports_all": texts.gettext("All programmes"),
        "reports_bad_date": texts.gettext(
            "Write the date as YYYY-MM-DD, e.g. 2026-01-31. Showing the last year."
        ),
        "reports_downloads": texts.gettext("Download"),
        "reports_from": texts.gettext("From"),
        "reports_out_of_years": texts.gettext(
            "Choose days in the years 2000 to 2100. Showing the last year."
        ),
        "reports_no_programme": texts.gettext(
            "We do not know that programme, so all programmes are shown."
        ),
        "reports_numbers": texts.gettext("The numbers"),
        "reports_programme": texts.gettext("Programme"),
        "reports_scope_admin": texts.gettext("The reports cover every match."),
        "reports_scope_coordinator": texts.gettext("The reports cover your region's matches."),
        "reports_scope_procesleder": texts.gettext("The reports cover the matches you follow."),
        "reports_show": texts.gettext("Show"),
        "reports_step": texts.gettext("Step"),
        "reports_survey": texts.gettext("Survey"),
        "reports_swapped": texts.gettext(
            "The from date was after the to date, so we swapped them."
        ),
        "reports_title": texts.gettext("Reports"),
        "reports_to": texts.gettext("To"),
        "reports_unknown": texts.gettext("No such report."),
        "reports_visits": texts.gettext("Visits"),
        "reports_week": texts.gettext("Week from"),
        "retention_ended": texts.gettext("Ended before the anniversary"),
        "retention_share": texts.gettext("Share still running"),
        "retention_still": texts.gettext("Still running"),
        "role_admin": texts.pgettext("staff role", "administrator"),
        "role_coordinator": texts.pgettext("staff role", "coordinator"),
        "role_procesleder": texts.pgettext("staff role", "case lead"),
        "sort_child": texts.pgettext("sort by", "child's name"),
        "sort_contact": texts.pgettext("sort by", "last conversation (longest ago first)"),
        "sort_health": texts.pgettext("sort by", "health"),
        "sort_last_visit": texts.pgettext("sort by", "last visit (oldest first)"),
        "sparring_add": texts.gettext("Create a sparring session"),
        "sparring_at": texts.gettext("Time"),
        "sparring_bad_link": texts.gettext("The meeting link must start with https://"),
        "sparring_bad_time": texts.gettext("The time could not be read."),
        "sparring_create": texts.gettext("Create and invite"),
        "sparring_note": texts.gettext("Note for colleagues (optional)"),
        "sparring_past": texts.gettext("The session must be in the future."),
        "sparring_region": texts.gettext("Region (empty: all regions)"),
        "sparring_title": texts.gettext("Sparring"),
        "state_done": texts.pgettext("year wheel", "done"),
        "state_missed": texts.pgettext("year wheel", "missed"),
        "state_upcoming": texts.pgettext("year wheel", "upcoming"),
        "status_active": texts.pgettext("match status", "active"),
        "status_ended": texts.pgettext("match status", "ended"),
        "status_msg_cancelled": texts.pgettext("message status", "cancelled"),
        "status_msg_delivered": texts.pgettext("message status", "delivered"),
        "status_msg_expired": texts.pgettext("message status", "expired"),
        "status_msg_failed": texts.pgettext("message status", "failed"),
        "status_msg_planned": texts.pgettext("message status", "planned"),
        "status_msg_sending": texts.pgettext("message status", "sending"),
        "status_msg_sent": texts.pgettext("message status", "sent"),
        "status_msg_unknown": texts.pgettext("message status", "unknown"),
        "status_paused": texts.pgettext("match status", "paused"),
        "status_waiting": texts.pgettext("match status", "waiting"),
        "strip_before": texts.pgettext("visit week", "before the start"),
        "strip_missed": texts.pgettext("visit week", "cancelled or missed"),
        "strip_none": texts.pgettext("visit week", "nothing reported"),
        "strip_paused": texts.pgettext("visit week", "paused"),
        "strip_visited": texts.pgettext("visit week", "visited"),
        "survey_completed": texts.pgettext("survey state", "completed"),
        "survey_opened": texts.pgettext("survey state", "opened"),
        "survey_sent": texts.pgettext("survey state", "sent"),
        "today": texts.gettext("Today"),
        "wave_baseline": texts.pgettext("survey wave", "at the start"),
        "wave_end": texts.pgettext("survey wave", "at the end"),
        "wave_followup": texts.pgettext("survey wave", "follow-up"),
        "wheel_title": texts.gettext(
            "Year wheel for %(child)s: month by month from the start to the anniversary"
        ),
        "wheel_week": texts.gettext("Week %(week)s of %(weeks)s"),
    }


@lru_cache(maxsize=32)
def reasons(texts: i18n.Texts) -> dict[str, str]:
    """Why a message was not sent, as the scheduler writes it on the outbox row, in the staff
    member's language. A reason not listed here (a provider's own error text) is shown as it is.
    """
    return {
        outbox.NOT_IN_PLAN: texts.gettext("no longer in the plan"),
        outbox.EXPIRED: texts.gettext("expired before it could be sent"),
        outbox.IN_DOUBT: texts.gettext(
            "the sending process stopped mid-send; not re-sent to avoid a duplicate"
        ),
        outbox.ACKNOWLEDGED: texts.gettext("acknowledged"),
        outbox.CANCELLED_BY_STAFF: texts.gettext("cancelled by staff"),
        "the match no longer exists": texts.gettext("the match no longer exists"),
        "programme or recipient no longer exists": texts.gettext(
            "programme or recipient no longer exists"
        ),
        "the recipient opted out": texts.gettext("the recipient opted out"),
        "already answered": texts.gettext("already answered"),
        "its prompt was never sent": texts.gettext("its prompt was never sent"),
        "the staff member is no longer active": texts.gettext(
            "the staff member is no longer active"
        ),
        "no address for this channel": texts.gettext("no address for this channel"),
        "nothing to tell any more": texts.gettext("nothing to tell any more"),
    }


def word(locale: str, key: str, **values: Any) -> str:
    text = labels(i18n.texts(locale)).get(key, "")
    return text % values if values else text
