"""No words for a person outside the message catalogs and the templates.

An AST scan of the code people's texts come from (the bot, the web app, the domain layer and
the command line's staff output): a string literal that reads like words for a person, two or
more words of letters or any non-ASCII letter, fails unless it is a message id inside a gettext
call (``gettext``, ``ngettext``, ``pgettext``, ``npgettext``, ``_``, ``N_``), a docstring, a
logging call, data (a dict key, a subscript, a comparison, an SQL or regular expression), an
exception meant for developers, an ``assert`` message, or on the small allowlist below. English
left in Python reaches a Danish reader as English; the catalogs are where every language is.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

GETTEXT = {"gettext", "ngettext", "pgettext", "npgettext", "_", "N_"}
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

# (path, the literal's start): literals that read like words but are not for a person. Keep it
# short and say why.
ALLOWLIST: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Literal:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.text[:70]!r}"


def reads_like_words(text: str) -> bool:
    if _DATE_PATTERN.fullmatch(text):
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
        scan = _Scan(str(path.relative_to(ROOT)))
        scan.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        yield from scan.found


def python_files(target: str) -> list[Path]:
    where = ROOT / target
    return [where] if where.is_file() else sorted(where.rglob("*.py"))


# What is scanned. The folders are being converted to the catalogs in parallel branches
# (converted in the h1/h2/h3 branches: followup/ in h1, bot/ and venskab/cli/ in h2, web/ in
# h3); they are expected to fail until those branches are merged, then the merge drops the
# xfail marks. The files listed alone are converted already and must stay so.
CONVERTING = pytest.mark.xfail(strict=False, reason="converted in the h1/h2/h3 branches")
TARGETS = [
    pytest.param("venskab/cli/texts.py", id="venskab/cli/texts.py"),
    pytest.param("bot", id="bot", marks=CONVERTING),
    pytest.param("web", id="web", marks=CONVERTING),
    pytest.param("followup", id="followup", marks=CONVERTING),
    pytest.param("venskab/cli", id="venskab/cli", marks=CONVERTING),
]


@pytest.mark.parametrize("target", TARGETS)
def test_no_words_for_a_person_outside_the_catalogs(target: str) -> None:
    found = list(literals(python_files(target)))
    assert not found, (
        f"{len(found)} string literals read like words for a person; put them in a gettext "
        "call (scheduler/i18n.py) or a template:\n" + "\n".join(map(str, found[:40]))
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
    return text("SELECT id FROM match WHERE id = :id"), label, "ok", "match_id"
'''
    assert _scan(source) == [
        "Tak for svaret",
        "Thank you , see you",
        "Kære",
        "no such match",
    ]
