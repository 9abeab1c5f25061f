"""No sentence a person reads is written in web/'s Python code: every one is a message id
(``gettext``, ``pgettext``, ``ngettext``, ``N_``) or lives in a template that calls ``_()``.

The check reads the code's syntax tree: a string of two words or more counts, unless it is a
docstring, a message id, a log line, an exception for developers, a dictionary key (a data key,
such as the scheduler's reason a message was cancelled) or markup.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parent.parent / "web"
MESSAGE_IDS = {"gettext", "pgettext", "ngettext", "npgettext", "N_"}
NOT_READ = {"info", "warning", "debug", "error", "exception", "compile", "fullmatch", "match"}
SENTENCE = re.compile(r"[^\W\d_]{2,} [^\W\d_]{2,}")


def _call_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def sentences(source: str) -> list[tuple[int, str]]:
    """The literal sentences in ``source`` that a person could read and no catalog holds."""
    tree = ast.parse(source)
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
            continue
        text = node.value
        if not SENTENCE.search(text) or text.lstrip().startswith("<"):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Expr):  # a docstring
            continue
        if isinstance(parent, ast.Dict) and node in parent.keys:
            continue
        above: ast.AST = node
        excused = False
        while above in parents and not excused:
            above = parents[above]
            if isinstance(above, ast.Raise | ast.Assert):
                excused = True
            elif isinstance(above, ast.Call):
                excused = _call_name(above) in MESSAGE_IDS | NOT_READ
        if not excused:
            found.append((node.lineno, text))
    return found


@pytest.mark.parametrize("path", sorted(WEB.glob("*.py")), ids=lambda p: p.name)
def test_no_sentence_in_the_web_code_escapes_the_catalogs(path: Path) -> None:
    assert sentences(path.read_text(encoding="utf-8")) == []


def test_the_check_finds_a_sentence_written_straight_into_a_page() -> None:
    code = '''
def page(texts):
    """A docstring is not read by anyone."""
    log.info("logged for developers")
    ok = texts.gettext("Thank you for your answer.")
    return {"key in a table": ok, "title": "Tak for dit svar"}
'''
    assert sentences(code) == [(6, "Tak for dit svar")]
