"""No words for a person outside the message catalogs and the templates.

An AST scan of the code people's texts come from (the bot, the web app, the domain layer and
the command line's staff output): a string literal that reads like words for a person, two or
more words of letters or any non-ASCII letter, fails unless it is a message id inside a gettext
call (``gettext``, ``ngettext``, ``pgettext``, ``npgettext``, ``_``, ``N_``), a docstring, a
logging call, data (a dict key, a subscript, a comparison, an SQL or regular expression), an
exception meant for developers, an ``assert`` message, markup (a literal starting with ``<``), an
HTTP header value (a content type, a Content-Security-Policy), or on the small allowlist below.
English left in Python reaches a Danish reader as English; the catalogs are where every language
is. The operator's own diagnostics (``venskab doctor``, ``venskab db``) stay English, like logs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GETTEXT = {"gettext", "ngettext", "pgettext", "npgettext", "_", "N_", "said"}
LOGGING_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "log"}
LOGGERS = {"log", "logger", "logging", "_log", "_logger", "LOG", "LOGGER"}
# Exceptions whose message a developer reads (in a traceback or a log), never a person.
DEVELOPER_EXCEPTIONS = {
    "AssertionError",
    "AttributeError",
    "KeyError",
    "LookupError",
    "NotImplementedError",
    "RuntimeError",
    "TypeError",
    "ValueError",
    "OSError",
    "SettingsError",  # venskab/settings.py: the operator's environment, in English like logs
    # followup/survey_defs/loading.py: the organisation's own survey files (surveys/*.yaml), checked
    # at start-up and by `venskab survey check` like the settings; pydantic's reasons are English.
    "SurveyDefinitionError",
}
# Calls whose string arguments are code or data, not text: SQL, regular expressions, type
# variables, Babel date patterns, struct formats.
DATA_CALLS = {
    "text",
    "compile",
    "fullmatch",
    "match",
    "search",
    "sub",
    "split",
    "findall",
    "finditer",
    "TypeVar",
    "getLogger",
    "format_date",
    "format_datetime",
    "format_time",
    "strftime",
    "strptime",
}
# Two words: letters, maybe punctuation, whitespace, letters ("escalation.ack" is an identifier).
_WORDS = re.compile(r"[A-Za-z]{2,}[,.:;!?'\")-]*\s+[(\"']*[A-Za-z]{2,}")
# A Babel date pattern ("d. MMMM y 'kl.' HH:mm"): pattern letters, quoted text, separators.
_DATE_PATTERN = re.compile(r"(?:[GyYuQqMLwWdDFEecahHkKmsSAzZvVxX]+|'[^']*'|[\s.,:/-])+")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)

# Header values: content types ("text/csv; charset=utf-8"), a Content-Security-Policy
# ("default-src 'self'; ..."), cache and disposition directives.
_HEADER_VALUE = re.compile(
    r"^(?:[a-z]+/[\w.+-]+(?:;\s*\w+=[\w-]+)*"
    r"|(?:default|script|style|img|font|connect|frame|form|object|base|media)-src\b.*"
    r"|(?:no-store|no-cache|max-age=\d+|private|public|attachment|inline)\b.*"
    r"|(?:noindex|nofollow|noarchive)(?:, *(?:noindex|nofollow|noarchive))*"
    r"|[\w-]+(?:, *[\w-]+)*, *(?:sans-serif|serif|monospace))$",
    re.DOTALL,
)
# HTTP reason phrases a webhook answers a provider's server with; no person reads them.
HTTP_REASONS = {"Bad Request", "Too large", "Forbidden", "Not Found", "Payload Too Large"}

# Files whose output only the operator reads: `venskab doctor`, and `venskab run`, `db`,
# `programme check`, `tick` and `simulate` (venskab/cli/operations.py) are diagnostics, in
# English like the logs and tracebacks (README, "Command line"). Everything staff read is scanned.
OPERATOR_FILES = {"venskab/cli/doctor.py", "venskab/cli/operations.py"}
# (path, the literal's start): literals that read like words but are not for a person. Keep it
# short and say why.
ALLOWLIST: set[tuple[str, str]] = {
    # Words people type that the code reads: weekday names in a CSV file, an SMS keyword.
    ("followup/import_values.py", "lørdag"),
    ("followup/import_values.py", "søndag"),
    ("followup/replies.py", "hjælp"),
    # Words the providers answer with, matched to tell a dead chat or a refused body.
    ("scheduler/channels/errors.py", "chat not found"),
    ("scheduler/channels/errors.py", "user not found"),
    ("scheduler/channels/errors.py", "user is deactivated"),
    ("scheduler/channels/errors.py", "have no rights to send a message"),
    ("scheduler/channels/telegram.py", "message is too long"),
    ("scheduler/channels/telegram.py", "can't parse entities"),
    # Stand-ins that size an organisation's own SMS text (`venskab texts check`), never sent.
    ("followup/wording.py", "Familien Holm-Andersen"),
    ("followup/wording.py", "Barn Alexandra"),
    ("followup/wording.py", "Red Barnet"),
    ("followup/wording.py", "jeres kontaktperson i Red Barnet"),
    ("scheduler/sms.py", "@£$¥èéùìò"),  # the GSM-7 alphabet
    ("scheduler/working_days.py", "Nytårsaftensdag"),  # a holiday's name in the calendar rules
    ("followup/calendar_feed.py", "-//venskab//calendar feed//DA"),  # iCalendar's PRODID
    # What scheduler.retry.until_written names in its log line while the database is down.
    ("scheduler/dispatcher.py", "preparing messages"),
    ("scheduler/dispatcher.py", "releasing messages"),
    ("scheduler/dispatcher.py", "recording outcomes"),
    ("scheduler/render.py", "no message template at"),  # a LookupError's message, for developers
    # A programme file's and the school calendar's problems: `venskab programme check` and
    # `venskab run` show them to the operator who edits the YAML, in English like pydantic's own
    # messages they are joined with ("Value error, " is pydantic's prefix, removed).
    ("scheduler/programme.py", "duplicate touchpoint id"),
    ("scheduler/programme.py", "no touchpoint with id"),
    ("scheduler/programme.py", "a touchpoint cannot anchor on itself"),
    ("scheduler/programme.py", "touchpoints anchor on each other in a loop"),
    ("scheduler/programme.py", "expected a mapping with id, name and touchpoints"),
    ("scheduler/programme.py", "Value error, "),
    ("scheduler/programme.py", "unknown field (check the spelling)"),
    ("scheduler/programme.py", "cannot read the file"),
    ("scheduler/programme.py", "programme id  is used by another file too"),
    ("scheduler/school_calendar.py", ":  from  overlaps  to "),
    ("scheduler/school_calendar.py", ": two  holidays starting in "),
    ("scheduler/school_calendar.py", "the file"),
    ("scheduler/school_calendar.py", "expected a mapping with holidays: and municipalities:"),
    ("scheduler/school_calendar.py", "Value error, "),
    ("scheduler/school_calendar.py", "municipalities: a municipality needs a name"),
    ("scheduler/school_calendar.py", "municipality : listed twice"),
    ("scheduler/school_calendar.py", "cannot read the file"),
    ("scheduler/yaml_problems.py", "line , column : "),
    ("scheduler/yaml_problems.py", "not valid YAML ()"),
    ("scheduler/yaml_problems.py", "byte : not UTF-8 text (save the file as UTF-8)"),
    # pydantic's own prefix, removed from its messages about a survey file.
    ("followup/survey_defs/loading.py", "Value error, "),
    # Reasons about a survey file (surveys/*.yaml), in English like SurveyDefinitionError's.
    ("followup/survey_defs/loading.py", "unknown field (check the spelling)"),
    ("followup/survey_defs/loading.py", "expected a text; put quotes around"),
    # A password hashed only to answer an unknown account as slowly as a known one; never shown.
    ("followup/staff_auth.py", "no such account"),
}


@dataclass(frozen=True)
class Literal:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text[:70]!r}"


def reads_like_words(text: str) -> bool:
    if _DATE_PATTERN.fullmatch(text) or _HEADER_VALUE.match(text) or text in HTTP_REASONS:
        return False
    if text.lstrip().startswith("<"):  # markup (SVG, an HTML fragment): its words are templated
        return False
    if any(ord(ch) > 127 and _NON_ASCII_LETTER.match(ch) for ch in text):
        return True
    return bool(_WORDS.search(text))


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call):
        return _name(node.func)
    return ""


def _is_logging(call: ast.Call) -> bool:
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr in LOGGING_METHODS):
        return False
    owner = func.value
    return _name(owner) in LOGGERS or (isinstance(owner, ast.Call) and _name(owner) == "getLogger")


class _Scan(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[Literal] = []

    # Nodes below which no literal is text for a person.
    def _skip(self, node: ast.AST) -> None:
        return None

    def visit_Call(self, node: ast.Call) -> None:
        name = _name(node.func)
        if name in GETTEXT or name in DATA_CALLS or _is_logging(node):
            return
        self.generic_visit(node)

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None and _name(node.exc) in DEVELOPER_EXCEPTIONS:
            return
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        return

    def visit_Compare(self, node: ast.Compare) -> None:
        return

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.visit(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for value in node.values:
            self.visit(value)

    def visit_Expr(self, node: ast.Expr) -> None:
        # A bare string statement is a docstring (or a comment written as one).
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        # Decorators (click's help= and metavar=) document the command, like its docstring.
        for statement in node.body:
            self.visit(statement)
        for argument in node.args.defaults + node.args.kw_defaults:
            if argument is not None:
                self.visit(argument)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)  # the annotation is a type, never text

    def visit_arg(self, node: ast.arg) -> None:
        return

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        parts = "".join(
            v.value for v in node.values if isinstance(v, ast.Constant) and isinstance(v.value, str)
        )
        self._check(node, parts)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self._check(node, node.value)

    def _check(self, node: ast.expr, text: str) -> None:
        if reads_like_words(text) and not any(
            self.path == path and text.startswith(start) for path, start in ALLOWLIST
        ):
            self.found.append(Literal(self.path, node.lineno, text))


def literals(paths: list[Path]) -> Iterator[Literal]:
    for path in paths:
        name = path.relative_to(ROOT).as_posix()
        if name in OPERATOR_FILES:
            continue
        scan = _Scan(name)
        scan.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        yield from scan.found


def python_files(target: str) -> list[Path]:
    where = ROOT / target
    return [where] if where.is_file() else sorted(where.rglob("*.py"))


# What is scanned: where the texts people read come from. The scheduler speaks too (a voice
# call's words, the suggested action stored with an outcome).
TARGETS = ["bot", "web", "followup", "scheduler", "venskab/cli"]

# Files not converted yet, with how many literals each still has: the count may only go down
# (lower it here when you convert some), and a file not listed must have none. When a file is
# converted, remove its line. The goal is an empty table.
PENDING: dict[str, int] = {
    "scheduler/channels/email.py": 1,
    "scheduler/channels/errors.py": 2,
    "scheduler/channels/sms.py": 8,
    "scheduler/channels/telegram.py": 3,
    "scheduler/dispatcher.py": 1,
    "scheduler/outbox/receipts.py": 1,
    "scheduler/outbox/rows.py": 1,
    "scheduler/outbox/staff.py": 1,
    "scheduler/outcomes.py": 1,
    "scheduler/prepare.py": 2,
}


def _by_file(target: str) -> dict[str, list[Literal]]:
    found: dict[str, list[Literal]] = {}
    for literal in literals(python_files(target)):
        found.setdefault(literal.path, []).append(literal)
    return found


@pytest.mark.parametrize("target", TARGETS)
def test_no_words_for_a_person_outside_the_catalogs(target: str) -> None:
    problems = []
    found = _by_file(target)
    for path, items in sorted(found.items()):
        allowed = PENDING.get(path, 0)
        if len(items) > allowed:
            problems.append(
                f"{path}: {len(items)} literals read like words for a person"
                + (f" (at most {allowed} left to convert)" if allowed else "")
                + "".join(f"\n  {item}" for item in items[:15])
            )
    for path, allowed in sorted(PENDING.items()):
        if path.startswith(target + "/") and len(found.get(path, [])) < allowed:
            problems.append(
                f"{path}: {len(found.get(path, []))} left, fewer than {allowed}: lower PENDING"
            )
    assert not problems, (
        "put these in a gettext call (scheduler/i18n.py) or a template:\n" + "\n".join(problems)
    )


def _scan(source: str) -> list[str]:
    scan = _Scan("example.py")
    scan.visit(ast.parse(source))
    return [literal.text for literal in scan.found]


def test_the_scan_finds_words_and_leaves_code_and_data_alone() -> None:
    source = '''
"""A module docstring with many words."""
import logging
log = logging.getLogger(__name__)

def reply(t, update, name):
    """A docstring."""
    log.info("sent the reply to chat %s", 1)
    if update.text == "yes please":
        pass
    label = {"two words": t.gettext("Thank you, %(name)s.", name=name)}["two words"]
    if not name:
        raise ValueError("name must not be empty")
    update.reply("Tak for svaret")
    update.reply(f"Thank you {name}, see you")
    update.reply("Kære")
    update.day(format_day(day, "EEEE 'den' d. MMMM"), "escalation.acknowledge", "venskab.cli.")
    raise UserError("no such match")
    headers = {"Content-Type": "text/csv; charset=utf-8", "X-Robots-Tag": "noindex, nofollow"}
    headers["Content-Security-Policy"] = "default-src 'self'; img-src 'self' data:"
    svg = '<svg role="img"><title>visits per month</title></svg>'
    return text("SELECT id FROM match WHERE id = :id"), label, "ok", "match_id"
'''
    assert _scan(source) == [
        "Tak for svaret",
        "Thank you , see you",
        "Kære",
        "no such match",
    ]
