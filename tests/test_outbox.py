"""scheduler.outbox is the one owner of outbox rows: the only module that inserts them, builds
their idempotency keys and changes their status. Receipts and channels agree on which provider
errors are permanent."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException

from scheduler import outbox
from scheduler.channels.errors import PERMANENT_TWILIO_CODES
from scheduler.channels.sms import twilio_error
from store.models import Audience, Channel, OutboxMessage, OutboxStatus

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("store", "scheduler", "followup", "bot", "web", "venskab")
OWNER = Path("scheduler/outbox")  # the package: its modules alone write outbox rows
NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _outbox_table(node: ast.AST) -> bool:
    return bool(_names(node) & {"OutboxMessage", "_OUTBOX"})


def _outbox_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module inserts or updates outbox rows, writes their status, or builds an
    idempotency key from an f-string."""
    found: list[tuple[int, str]] = []
    rows = _outbox_row_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            found += [(node.lineno, what) for what in _assignment(node, rows)]
        elif isinstance(node, ast.Attribute) and _is_outbox_table(node):
            found.append((node.lineno, "OutboxMessage.__table__"))
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, what) for what in _dict(node)]
        elif isinstance(node, ast.Call):
            found += [(node.lineno, what) for what in _call(node)]
        elif isinstance(node, ast.FunctionDef) and _builds_keys(node.name):
            found += [(n.lineno, f"{node.name}() returns an f-string") for n in _returned(node)]
    return found


def _outbox_row_names(tree: ast.AST) -> set[str]:
    """Names that hold an outbox row: parameters annotated ``OutboxMessage``, and names bound
    from an expression that names it (``row = session.get(OutboxMessage, id)``, a loop over a
    select of it)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            if "OutboxMessage" in _names(node.annotation):
                names.add(node.arg)
        elif isinstance(node, ast.Assign | ast.For) and _outbox_table(
            node.value if isinstance(node, ast.Assign) else node.iter
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _assignment(node: ast.Assign | ast.AugAssign | ast.AnnAssign, rows: set[str]) -> list[str]:
    if isinstance(node, ast.AnnAssign) and "Mapped" in _names(node.annotation):
        return []  # the model's column itself
    if node.value is None:
        return []
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    found = []
    if isinstance(node.value, ast.JoinedStr) and any(_is_key_target(t) for t in targets):
        found.append("an idempotency key from an f-string")
    for target in ast.walk(ast.Tuple(elts=list(targets))):
        if isinstance(target, ast.Attribute) and target.attr == "status":
            if isinstance(target.value, ast.Name) and target.value.id in rows:
                found.append(f"{target.value.id}.status = ... (an outbox row)")
            elif "OutboxStatus" in _names(node.value):
                found.append("assigns an OutboxStatus to .status")
        elif (
            isinstance(target, ast.Name)
            and target.id == "status"
            and "OutboxStatus" in _names(node.value)
        ):
            found.append("status = OutboxStatus...")
        elif _keyed_message(target):
            found.append("a message keyed by an f-string")
    return found


def _keyed_message(target: ast.AST) -> bool:
    """``messages[f"..."] = ...``: a planned message keyed by a key made on the spot."""
    if not isinstance(target, ast.Subscript) or not isinstance(target.slice, ast.JoinedStr):
        return False
    container = _names(target.value)
    return any(word in name.lower() for name in container for word in ("message", "outbox"))


def _is_key_target(target: ast.expr) -> bool:
    if isinstance(target, ast.Attribute):
        return target.attr == "idempotency_key"
    return isinstance(target, ast.Subscript) and (
        (isinstance(target.slice, ast.Name) and target.slice.id == "KEY")
        or (isinstance(target.slice, ast.Constant) and target.slice.value == "idempotency_key")
    )


def _is_outbox_table(node: ast.Attribute) -> bool:
    return (
        node.attr == "__table__"
        and isinstance(node.value, ast.Name)
        and node.value.id == "OutboxMessage"
    )


def _dict(node: ast.Dict) -> list[str]:
    found = []
    for key, value in zip(node.keys, node.values, strict=True):
        if not isinstance(key, ast.Constant):
            continue
        if key.value == "status" and "OutboxStatus" in _names(value):
            found.append('{"status": OutboxStatus...}')
        elif key.value == "idempotency_key" and isinstance(value, ast.JoinedStr):
            found.append('{"idempotency_key": f"..."}')
    return found


def _call(node: ast.Call) -> list[str]:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    found = [
        "status=OutboxStatus..."
        for keyword in node.keywords
        if keyword.arg == "status" and "OutboxStatus" in _names(keyword.value)
    ]
    found += [
        f"{keyword.arg}=f'...'"
        for keyword in node.keywords
        if keyword.arg in {"key", "idempotency_key"} and isinstance(keyword.value, ast.JoinedStr)
    ]
    if name == "OutboxMessage":
        found.append("OutboxMessage(...)")
    if name in {"insert", "insert_ignore", "RowInserter"} and any(
        _outbox_table(arg) for arg in node.args[:2]
    ):
        found.append(f"{name}(... OutboxMessage ...)")
    if name == "update" and node.args and _outbox_table(node.args[0]):
        found.append("update(OutboxMessage)")
    return found


# Task keys are the tasks' own (not outbox rows); the outbox module builds every other key.
TASK_KEY_BUILDERS = {"task_key"}


def _builds_keys(name: str) -> bool:
    return (name.startswith("key_for") or name.endswith("_key")) and name not in TASK_KEY_BUILDERS


def _returned(function: ast.FunctionDef) -> list[ast.JoinedStr]:
    return [
        n.value
        for n in ast.walk(function)
        if isinstance(n, ast.Return) and isinstance(n.value, ast.JoinedStr)
    ]


def _offenders() -> list[str]:
    offenders: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parent == OWNER:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
            offenders += [f"{relative}:{line}: {what}" for line, what in _outbox_writes(tree)]
    return offenders


def test_only_the_outbox_module_writes_rows_or_builds_their_keys() -> None:
    offenders = _offenders()
    assert offenders == [], "\n".join(offenders)


def test_the_scan_sees_what_it_forbids() -> None:
    # The outbox module itself does all of these; a scan that found none would prove nothing.
    kinds = {
        what
        for path in sorted((ROOT / OWNER).glob("*.py"))
        for _, what in _outbox_writes(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert "row.status = ... (an outbox row)" in kinds
    assert "status=OutboxStatus..." in kinds
    assert "update(OutboxMessage)" in kinds
    assert "key_for_digest() returns an f-string" in kinds


@pytest.mark.parametrize(
    "source",
    [
        "session.add(OutboxMessage(kind='message'))",
        "session.execute(insert(OutboxMessage.__table__).values(kind='message'))",
        "session.execute(update(OutboxMessage).values(body=None))",
        "message.status = OutboxStatus.SENT",
        "def f(row: OutboxMessage) -> None:\n    row.status = done",
        "for row in session.scalars(select(OutboxMessage)):\n    row.status = status",
        "values[KEY] = f'm{match_id}:{touchpoint}'",
        "messages[f'{head}{touchpoint}:{occurrence}{tail}'] = want",
        "call_back_task(session, 1, 2, 'title', now, key=f'voice:{row_id}')",
        "rows.append({'idempotency_key': f'wait:{party}'})",
        "def key_for_note(party: str) -> str:\n    return f'wait:{party}'",
    ],
)
def test_the_scan_catches_a_write_outside_the_outbox_module(source: str) -> None:
    assert _outbox_writes(ast.parse(source)) != []


def test_the_scan_lets_other_rows_be() -> None:
    source = "def f(task: Task) -> None:\n    task.status = TaskStatus.CANCELLED\n"
    source += "def task_key(match_id: int) -> str:\n    return f'm{match_id}'\n"
    assert _outbox_writes(ast.parse(source)) == []


def test_the_key_builders_keep_the_stored_formats() -> None:
    assert outbox.key_for_touchpoint(7, "welcome", "0", "contact_person", 12) == "m7:welcome:0:c12"
    assert (
        outbox.key_for_touchpoint(7, "survey", "2026-03-03:r1", "volunteer_family", 3)
        == "m7:survey:2026-03-03:r1:v3"
    )
    keys = outbox.touchpoint_keys(7, "contact_person", 12)
    assert keys("welcome", "0") == outbox.key_for_touchpoint(
        7, "welcome", "0", "contact_person", 12
    )
    assert outbox.key_for_fallback("m7:welcome:0:c12", "email") == "m7:welcome:0:c12:fb-email"
    assert len(outbox.key_for_fallback("x" * 250, "sms")) == 200
    assert outbox.fallbacks_in("m1:a:0:c1:fb-sms:fb-email") == 2
    key = outbox.key_for_sparring_reminder(5, 9)
    assert key == "sparring:s5:reminder:v9"
    assert key.startswith(outbox.sparring_reminder_prefix(5))
    assert outbox.family_of_sparring_reminder(key) == 9
    assert outbox.key_for_digest(4, date(2026, 3, 3), "email") == "digest:4:2026-03-03:email"
    assert outbox.key_for_alert(11, 2, 4, "telegram") == "esc11:l2:s4:telegram"
    assert outbox.alert_occurrence(11, 2) == "11:2"


def test_a_new_row_starts_planned_failed_or_expired() -> None:
    assert outbox.new_row({"kind": "message"}) == {
        "kind": "message",
        "status": OutboxStatus.PLANNED,
        "last_error": None,
    }
    failed = outbox.new_row({"kind": "message"}, unreachable="no usable address")
    assert (failed["status"], failed["last_error"]) == (OutboxStatus.FAILED, "no usable address")
    expired = outbox.new_row({"kind": "message"}, expired=True)
    assert (expired["status"], expired["last_error"]) == (OutboxStatus.EXPIRED, outbox.EXPIRED)


# -- receipts and channels agree ----------------------------------------------------------------


def _sent(channel: Channel = Channel.SMS) -> OutboxMessage:
    return OutboxMessage(
        id=1,
        channel=channel,
        audience=Audience.CONTACT_PERSON,
        status=OutboxStatus.SENT,
        provider_id="SM" + "0" * 32,
    )


@pytest.mark.parametrize("code", sorted(PERMANENT_TWILIO_CODES))
def test_a_receipt_with_a_permanent_code_fails_the_way_the_channel_does(code: int) -> None:
    row = _sent()
    receipt = outbox.apply_receipt(row, "undelivered", str(code), NOW)
    raised = twilio_error(
        TwilioRestException(400, "https://api.twilio.com/x", msg="refused", code=code), "message"
    )
    assert receipt.outcome == "failed" and receipt.error is not None and raised is not None
    assert (receipt.error.permanent, receipt.error.code) == (raised.permanent, raised.code)
    assert receipt.error.permanent
    assert row.status == OutboxStatus.FAILED
    assert row.last_error == f"provider reported undelivered (code {code})"


def test_a_receipt_with_another_code_is_a_failure_but_not_of_the_address() -> None:
    row = _sent()
    receipt = outbox.apply_receipt(row, "undelivered", "30008", NOW)  # unknown error
    raised = twilio_error(
        TwilioRestException(400, "https://api.twilio.com/x", msg="x", code=30008), "message"
    )
    assert receipt.error is not None and raised is not None
    assert receipt.outcome == "failed" and not receipt.error.permanent and not raised.permanent


def test_receipts_for_delivery_calls_and_progress() -> None:
    row = _sent()
    assert outbox.apply_receipt(row, "sent", "", NOW).outcome == "ignored"
    assert row.status == OutboxStatus.SENT
    assert outbox.apply_receipt(row, "delivered", "", NOW).outcome == "delivered"
    assert (row.status, row.delivered_at) == (OutboxStatus.DELIVERED, NOW)
    call = _sent(Channel.VOICE)
    assert outbox.apply_receipt(call, "no-answer", "", NOW).outcome == "unanswered"
    assert (call.status, call.last_error) == (OutboxStatus.FAILED, "call no-answer")
    answered = _sent(Channel.VOICE)
    assert outbox.apply_receipt(answered, "completed", "", NOW).outcome == "delivered"
