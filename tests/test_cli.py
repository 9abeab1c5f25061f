"""The command line, as a staff member or an operator uses it."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store.models import MatchPause, MatchStatus, OutboxMessage, OutboxStatus
from tests.support.cast import make_match
from venskab.cli import main
from venskab.cli.common import AppContext


def cli(db_url: str, *args: str, now: datetime | None = None) -> Result:
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url}, now_override=now)
    return CliRunner().invoke(main, list(args), obj=app)


def test_plan_shows_the_hjem_til_os_year_in_danish(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    result = cli(db_url, "plan", str(match_id), now=datetime(2026, 2, 1, tzinfo=UTC))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()

    def line(text: str) -> str:
        return next(x for x in lines if text in x)

    assert line("Ring til forælder/kontaktperson").startswith("10. mar. 2026")
    assert line("Børnebesøg").startswith("2. jul. 2026")
    assert line("Fremtidsaftale").startswith("4. jan. 2027")
    assert line("Farvelhilsen til venskabsfamilien").startswith("2. mar. 2027")
    assert line("Spørgeskema ved afslutning").startswith("2. mar. 2027")
    assert len([x for x in lines if "Invitation til sparring" in x]) == 6
    assert "Besøg hver mandag, 52 gange" in result.output


def test_plan_names_the_channel_each_person_will_get(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        linked = make_match(session).id  # Telegram and email; the parent prefers SMS
        sms_only = make_match(session, telegram_chat_id=None, family_email=None).id
    now = datetime(2026, 2, 1, tzinfo=UTC)
    lines = cli(db_url, "plan", str(linked), now=now).output.splitlines()

    def line(text: str, within: list[str]) -> str:
        return next(x for x in within if text in x)

    assert "venskabsfamilie (Telegram)" in line("Velkomst til venskabsfamilien", lines)
    assert "venskabsfamilie (e-mail)" in line("Farvelhilsen til venskabsfamilien", lines)
    assert "forælder/kontaktperson (e-mail)" in line("Farvelhilsen til forælder", lines)
    assert "forælder/kontaktperson (sms)" in line("Spørgeskema ved start", lines)
    assert "venskabsfamilie (Telegram)" in line("Besøg hver mandag", lines)
    english = cli(db_url, "plan", str(sms_only), "--lang", "en", now=now).output.splitlines()
    assert "volunteer family (SMS)" in line("Welcome to the volunteer family", english)
    assert "volunteer family (SMS)" in line("Farewell message to the volunteer family", english)


def test_plan_speaks_english_too(db_url: str, session_factory: sessionmaker[Session]) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    result = cli(
        db_url, "plan", str(match_id), "--lang", "en", now=datetime(2026, 2, 1, tzinfo=UTC)
    )
    assert result.exit_code == 0
    assert "Child visit" in result.output and "2 Jul 2026" in result.output
    assert "Visit every Monday, 52 times" in result.output


def test_an_unknown_match_id_is_a_clear_error_with_status_2(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    for args in (
        ["plan", "999"],
        ["match", "show", "999"],
        ["match", "end", "999", "--by", "term"],
    ):
        result = cli(db_url, *args)
        assert result.exit_code == 2, args
        assert "der er intet match med id 999" in result.output


def test_match_list_and_show_leave_out_contact_details(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    listed = cli(db_url, "match", "list")
    shown = cli(db_url, "match", "show", str(match_id))
    assert listed.exit_code == 0 and "Barn A" in listed.output and "hjem-til-os" in listed.output
    assert shown.exit_code == 0 and f"Match {match_id}: Barn A" in shown.output
    for secret in ("+4520123411", "+4520123421", "example.org"):
        assert secret not in listed.output + shown.output


def test_pause_resume_and_end_change_the_match(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = str(make_match(session).id)
    assert (
        cli(
            db_url, "match", "pause", match_id, "--from", "2026-07-01", "--reason", "sommerferie"
        ).exit_code
        == 0
    )
    assert cli(db_url, "match", "resume", match_id, "--on", "2026-08-03").exit_code == 0
    bad = cli(db_url, "match", "pause", match_id, "--from", "2026-07-10", "--to", "2026-07-05")
    assert bad.exit_code == 2 and "den første dag tilbage" in bad.output
    ended = cli(db_url, "match", "end", match_id, "--on", "2026-09-14", "--by", "volunteer_family")
    assert ended.exit_code == 0, ended.output
    again = cli(db_url, "match", "end", match_id, "--on", "2026-09-15", "--by", "term")
    assert again.exit_code == 2 and "er allerede afsluttet" in again.output
    with session_factory() as session:
        pause = session.scalars(select(MatchPause)).one()
        assert (pause.start_date, pause.end_date) == (date(2026, 7, 1), date(2026, 8, 3))
        from store.models import Match

        match = session.get(Match, int(match_id))
        assert match is not None and match.status == MatchStatus.ENDED
        assert match.end_date == date(2026, 9, 14)


def test_a_bad_date_is_refused_and_nothing_changes(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = str(make_match(session).id)
    result = cli(db_url, "match", "pause", match_id, "--from", "1st of July")
    assert result.exit_code == 2 and "--from" in result.output
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MatchPause)) == 0


def test_tick_plans_and_sends_as_of_the_given_moment(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    result = cli(db_url, "tick", "--now", "2026-03-02T18:05")
    assert result.exit_code == 0, result.output
    assert "planned 1 matches" in result.output
    again = cli(db_url, "tick", "--now", "2026-03-02T18:05")
    assert "0 messages added" in again.output and "dispatched 0" in again.output
    with session_factory() as session:
        sent = session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENT)
        ).all()
    assert {m.touchpoint_id for m in sent} == {"welcome", "sparring-invite"}


def test_tick_refuses_a_moment_that_is_not_iso(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    result = cli(db_url, "tick", "--now", "next tuesday")
    assert result.exit_code == 2 and "ISO" in result.output


def test_match_edit_corrects_the_start_and_the_plan_follows(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = str(make_match(session).id)  # starts Monday 2 March 2026

    def welcome_days() -> list[date]:
        with session_factory() as session:
            rows = session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.status == OutboxStatus.PLANNED,
                    OutboxMessage.touchpoint_id == "welcome",
                )
            ).all()
            return sorted({m.due_at.date() for m in rows})

    assert cli(db_url, "tick", "--now", "2026-02-25T12:00").exit_code == 0
    before = welcome_days()
    result = cli(db_url, "match", "edit", match_id, "--start", "2026-03-09")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"match {match_id} starter nu 9. mar. 2026 (før 2. mar. 2026); planen følger med"
    ]
    assert cli(db_url, "tick", "--now", "2026-02-25T12:00").exit_code == 0
    after = welcome_days()
    assert (before, after) == ([date(2026, 3, 2)], [date(2026, 3, 9)])
    with session_factory() as session:
        from store.models import Match

        match = session.get(Match, int(match_id))
        assert match is not None and match.start_date == date(2026, 3, 9)
        assert match.plan_version == 2


def test_match_edit_refuses_bad_input_with_status_2_and_changes_nothing(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = str(make_match(session).id)
    bad_date = cli(db_url, "match", "edit", match_id, "--start", "9 March")
    assert bad_date.exit_code == 2 and "--start" in bad_date.output
    assert len(bad_date.output.strip().splitlines()) == 1
    unknown = cli(db_url, "match", "edit", "999", "--start", "2026-03-09")
    assert unknown.exit_code == 2 and "der er intet match med id 999" in unknown.output
    assert (
        cli(db_url, "match", "end", match_id, "--on", "2026-09-14", "--by", "term").exit_code == 0
    )
    late = cli(db_url, "match", "edit", match_id, "--start", "2026-10-01")
    assert late.exit_code == 2 and "before the end date" in late.output
    with session_factory() as session:
        from store.models import Match

        match = session.get(Match, int(match_id))
        assert match is not None and match.start_date == date(2026, 3, 2)


def test_showing_a_plan_or_a_match_writes_nothing(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from tests.support.bot_harness import snapshot

    with session_factory.begin() as session:
        match_id = make_match(session).id
    before = snapshot(session_factory)

    for args in (["plan", str(match_id)], ["match", "show", str(match_id)], ["match", "list"]):
        result = cli(db_url, *args, now=datetime(2026, 2, 1, tzinfo=UTC))
        assert result.exit_code == 0, result.output

    assert snapshot(session_factory) == before


@pytest.mark.parametrize(
    ("sibling", "locale", "invoice"),
    [
        (False, "da", "Fakturér kommunen for matchet: 50.000 kr."),
        (True, "da", "Fakturér kommunen for matchet: 25.000 kr. (halv pris: søskende)"),
        (False, "en", "Invoice the municipality for the match: DKK 50,000"),
    ],
)
def test_a_mentorbarn_plan_reads_as_text_before_and_after_the_start(
    db_url: str, session_factory: sessionmaker[Session], sibling: bool, locale: str, invoice: str
) -> None:
    with session_factory.begin() as session:
        match = make_match(session, programme="mentorbarn", start=date(2026, 3, 4), weekday=2)
        match.sibling = sibling
        match_id = match.id
    for now in (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 9, 1, tzinfo=UTC)):
        result = cli(db_url, "plan", str(match_id), "--lang", locale, now=now)
        assert result.exit_code == 0, result.output
        assert invoice in result.output
        for syntax in ("{{", "}}", "{%", "None"):
            assert syntax not in result.output


def test_simulate_runs_a_fortnight_of_ticks_in_one_process(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        make_match(session)
    result = cli(
        db_url,
        "simulate",
        "--from",
        "2026-03-01T12:00",
        "--to",
        "2026-03-14T12:00",
        "--every",
        "8h",
    )
    assert result.exit_code == 0, result.output
    assert "simulated 40 ticks" in result.output
    with session_factory() as session:
        welcome = session.scalars(
            select(OutboxMessage).where(OutboxMessage.touchpoint_id == "welcome")
        ).one()
    assert welcome.status == OutboxStatus.SENT  # sandboxed: recorded, not sent anywhere


def test_simulate_refuses_a_span_it_cannot_read(db_url: str) -> None:
    result = cli(db_url, "simulate", "--from", "2026-03-01", "--to", "2026-03-02", "--every", "8x")
    assert result.exit_code != 0
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert (
        "--every: skriv et tidsrum fra 1m til 366d, fx 15m, 8h eller 1d, ikke '8x'" in result.output
    )


def test_a_cron_tick_loads_neither_the_bot_nor_the_web_server_nor_a_provider() -> None:
    """``venskab tick`` from cron starts quickly: its command's module alone is imported."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from venskab.cli import main\n"
        "assert main.get_command(None, 'tick') is not None\n"
        "import venskab.runtime\n"
        "print(sorted({'telegram', 'twilio', 'aiohttp', 'starlette', 'uvicorn', 'bot', 'web'}"
        " & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]", done.stdout


def test_every_command_is_listed_with_the_module_that_holds_it() -> None:
    from venskab.cli import COMMANDS, MODULES, LazyGroup

    for module in MODULES:
        group = LazyGroup()
        group.load(module)
        assert set(group.commands) == {c for c, m in COMMANDS.items() if m == module}, module
    assert set(COMMANDS.values()) <= set(MODULES)


def test_a_danish_staff_member_reads_match_list_and_show_in_danish(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id  # visits on Mondays; the staff member's +4520123401

    listed = cli(db_url, "match", "list")
    shown = cli(db_url, "match", "show", str(match_id))

    assert listed.exit_code == 0, listed.output
    header, _, row = listed.output.splitlines()
    assert header.split() == [
        "id", "program", "barn", "venskabsfamilie", "start", "ugedag", "status", "medarbejder"
    ]  # fmt: skip
    assert "2. mar. 2026" in row and "mandag" in row and "aktiv" in row
    assert "Procesleder (20 12 34 01)" in row
    assert shown.exit_code == 0, shown.output
    assert f"Match {match_id}: Barn A (født 2018) med Familien Eksempel" in shown.output
    assert "hver uge, mandag kl. 15:30" in shown.output
    assert "medarbejder  Procesleder (20 12 34 01)" in shown.output
    for english in ("Monday", "active", "weekly", "linked", "+4520123401"):
        assert english not in listed.output + shown.output


@pytest.mark.parametrize(
    ("args", "env"),
    [(["--lang", "en"], {}), ([], {"VENSKAB_LANGUAGE": "en"})],
)
def test_staff_may_read_the_command_line_in_english(
    db_url: str, session_factory: sessionmaker[Session], args: list[str], env: dict[str, str]
) -> None:
    with session_factory.begin() as session:
        match_id = make_match(session).id
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url, **env})

    listed = CliRunner().invoke(main, [*args, "match", "list"], obj=app)
    shown = CliRunner().invoke(main, [*args, "match", "show", str(match_id)], obj=app)

    assert listed.exit_code == 0, listed.output
    assert listed.output.splitlines()[0].split()[:3] == ["id", "programme", "child"]
    assert "2 Mar 2026" in listed.output and "Monday" in listed.output
    assert "Procesleder (20 12 34 01)" in listed.output
    assert "every week on Monday at 15:30" in shown.output
    assert "mandag" not in listed.output + shown.output


def test_an_unknown_language_is_one_clear_line_with_status_2(db_url: str) -> None:
    flag = cli(db_url, "--lang", "xx", "match", "list")
    app = AppContext(env={"VENSKAB_DATABASE_URL": db_url, "VENSKAB_LANGUAGE": "klingon"})
    setting = CliRunner().invoke(main, ["match", "list"], obj=app)

    assert flag.exit_code == 2 and "--lang" in flag.output and "da, en" in flag.output
    assert setting.exit_code == 2
    assert "VENSKAB_LANGUAGE: expected one of da, en" in setting.output
    assert "Traceback" not in flag.output + setting.output


def test_escalations_read_in_danish_say_what_happened_without_english(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from followup.escalations import raise_escalation

    with session_factory.begin() as session:
        match = make_match(session)
        for _ in range(2):
            raise_escalation(
                session,
                match,
                "message_from_family",
                now=datetime(2026, 3, 9, 18, 0, tzinfo=UTC),
                evidence={"text": "Kan vi flytte besøget?"},
                suggested_action="Read the message and answer the family.",
            )

    danish = cli(db_url, "escalations", now=datetime(2026, 3, 10, tzinfo=UTC))
    english = cli(db_url, "--lang", "en", "escalations", now=datetime(2026, 3, 10, tzinfo=UTC))

    assert danish.exit_code == 0, danish.output
    assert "9. mar. 2026 19:00" in danish.output and "Besked fra venskabsfamilien" in danish.output
    assert "Barn A & Familien Eksempel: Besked fra venskabsfamilien" in danish.output
    # Nothing was pushed yet (no tick ran): the list does not claim otherwise.
    assert "(2 henvendelser, ikke sendt til nogen endnu)" in danish.output
    for word in ("evidence", "pushes", "level", "open", "URGENT", "sendt til medarbejdere"):
        assert word not in danish.output
    assert "9 Mar 2026 19:00" in english.output
    assert "(2 reports, not sent to anyone yet)" in english.output
    # The next step as the alert names it, in the staff language.
    assert "→ Læs beskeden, og svar." in danish.output
    assert "→ Read the message and answer." in english.output


def test_resolve_records_how_the_case_ended_and_refuses_an_unknown_outcome(
    db_url: str, session_factory: sessionmaker[Session]
) -> None:
    from followup.escalations import raise_escalation
    from store.models import Escalation, EscalationStatus, ResolutionOutcome

    with session_factory.begin() as session:
        case = raise_escalation(
            session,
            make_match(session),
            "message_from_family",
            now=datetime(2026, 3, 9, 18, 0, tzinfo=UTC),
            evidence={"text": "Kan vi flytte besøget?"},
        )
        case_id = case.id
    when = datetime(2026, 3, 10, tzinfo=UTC)

    unknown = cli(db_url, "resolve", str(case_id), "--outcome", "fixed", now=when)
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output
    done = cli(
        db_url, "resolve", str(case_id), "--outcome", "referred", "--note", "Til PPR", now=when
    )
    assert done.exit_code == 0, done.output

    with session_factory() as session:
        found = session.get(Escalation, case_id)
        assert found is not None and found.status == EscalationStatus.RESOLVED
        assert found.resolution_outcome == ResolutionOutcome.REFERRED
        assert found.resolution_note == "Til PPR"
    listed = cli(db_url, "escalations", "--all", now=when)
    assert "Henvist til anden hjælp" in listed.output
