"""What a person reads comes from the catalogs: no sentence is written into the bot's code or
into what the command line prints for staff.

A string literal with two or more words is a text a person may read, unless it is a message id
(the first arguments of ``gettext``, ``ngettext``, ``pgettext``, ``N_``), a docstring, a log line
or an exception for developers, a SQL or format fragment, or the command line's own help (click
options and docstrings, which document the tool rather than speak to a family).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The bot's sandbox page and its webhook, state and update plumbing are read by tools, not people.
DEVELOPER_FILES = {"sandbox.py", "webhook.py", "persistence.py", "updates.py", "context.py"}
# The bot, and the command-line modules whose output staff read.
CHECKED = sorted(
    [p for p in (ROOT / "bot").glob("*.py") if p.name not in DEVELOPER_FILES]
    + [
        ROOT / "venskab" / "cli" / name
        for name in ("matches.py", "staff.py", "bot.py", "contacts.py", "calendar.py")
    ]
)
WORDS = re.compile(r"[^\W\d_]{2,}[ ,.:;!?]+[^\W\d_]{2,}", re.UNICODE)
MESSAGE_IDS = {"gettext", "ngettext", "pgettext", "npgettext", "N_", "_"}
DEVELOPER = {
    # logging
    "debug", "info", "warning", "error", "exception", "critical",
    # click's documentation of the tool itself
    "option", "argument", "command", "group", "Choice", "Path",
}  # fmt: skip


def _name(call: ast.Call) -> str:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _ignored(tree: ast.AST) -> set[int]:
    """The ids of the string nodes that are not texts a person reads."""
    ignored: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ignored.add(id(body[0].value))
        if isinstance(node, ast.Call) and (_name(node) in MESSAGE_IDS or _name(node) in DEVELOPER):
            ignored.update(id(n) for n in ast.walk(node))
        # UserError is what staff read; every other exception is for developers.
        if (
            isinstance(node, ast.Raise)
            and node.exc is not None
            and not (isinstance(node.exc, ast.Call) and _name(node.exc) == "UserError")
        ):
            ignored.update(id(n) for n in ast.walk(node.exc))
    return ignored


def _texts(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    ignored = _ignored(tree)
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in ignored
            and WORDS.search(node.value)
            and not node.value.startswith(("http://", "https://"))
        ):
            found.append((node.lineno, node.value))
    return found


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_text_a_person_reads_is_written_into_the_code(path: Path) -> None:
    found = _texts(path)
    assert not found, f"{path.relative_to(ROOT)}: texts outside the catalogs: {found[:5]}"


def test_the_check_finds_a_sentence_written_into_the_code(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def reply(texts):\n"
        '    """A docstring is fine."""\n'
        '    log.info("a log line is fine")\n'
        '    ok = texts.gettext("Thank you, it is noted.")\n'
        '    return ok + " Tak for besked."\n',
        encoding="utf-8",
    )
    assert _texts(sample) == [(5, " Tak for besked.")]
