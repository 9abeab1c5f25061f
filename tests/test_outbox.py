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
OWNER = Path("scheduler/outbox.py")
NOW = datetime(2026, 3, 3, 9, 0, tzinfo=UTC)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)} | {
        n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)
    }


def _outbox_table(node: ast.AST) -> bool:
    return bool(_names(node) & {"OutboxMessage", "_OUTBOX"})


def _status_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """Where a module writes an outbox status or inserts an outbox row."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            found += [(node.lineno, what) for what in _assignment(node)]
        elif isinstance(node, ast.Attribute) and _is_outbox_table(node):
            found.append((node.lineno, "OutboxMessage.__table__"))
        elif isinstance(node, ast.Dict):
            found += [(node.lineno, what) for what in _dict(node)]
        elif isinstance(node, ast.Call):
            found += [(node.lineno, what) for what in _call(node)]
    return found


def _assignment(node: ast.Assign | ast.AugAssign | ast.AnnAssign) -> list[str]:
    if isinstance(node, ast.AnnAssign) and "Mapped" in _names(node.annotation):
        return []  # the model's column itself
    if node.value is None or "OutboxStatus" not in _names(node.value):
        return []
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    found = []
    for target in ast.walk(ast.Tuple(elts=list(targets))):
        if isinstance(target, ast.Attribute) and target.attr == "status":
            found.append("assigns an OutboxStatus to .status")
        elif isinstance(target, ast.Name) and target.id == "status":
            found.append("status = OutboxStatus...")
    return found


def _is_outbox_table(node: ast.Attribute) -> bool:
    return (
        node.attr == "__table__"
        and isinstance(node.value, ast.Name)
        and node.value.id == "OutboxMessage"
    )


def _dict(node: ast.Dict) -> list[str]:
    return [
        '{"status": OutboxStatus...}'
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant)
        and key.value == "status"
        and "OutboxStatus" in _names(value)
    ]


def _call(node: ast.Call) -> list[str]:
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    found = [
        "status=OutboxStatus..."
        for keyword in node.keywords
        if keyword.arg == "status" and "OutboxStatus" in _names(keyword.value)
    ]
    if name == "OutboxMessage":
        found.append("OutboxMessage(...)")
    if name in {"insert", "insert_ignore", "RowInserter"} and any(
        _outbox_table(arg) for arg in node.args[:2]
    ):
        found.append(f"{name}(... OutboxMessage ...)")
    if name == "values" and _updates_outbox(func) and _sets_status(node):
        found.append("update(OutboxMessage).values(status=...)")
    return found


def _updates_outbox(func: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Name)
        and n.func.id == "update"
        and n.args
        and _outbox_table(n.args[0])
        for n in ast.walk(func)
    )


def _sets_status(call: ast.Call) -> bool:
    if any(keyword.arg == "status" for keyword in call.keywords):
        return True
    return any(
        isinstance(arg, ast.Dict)
        and any(isinstance(k, ast.Constant) and k.value == "status" for k in arg.keys)
        for arg in call.args
    )


def test_only_the_outbox_module_inserts_rows_or_changes_their_status() -> None:
    offenders: list[str] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative == OWNER:
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(relative))
            offenders += [f"{relative}:{line}: {what}" for line, what in _status_writes(tree)]
    assert offenders == [], "\n".join(offenders)


def test_the_scan_sees_what_it_forbids() -> None:
    # The outbox module itself does all of these; a scan that found none would prove nothing.
    tree = ast.parse((ROOT / OWNER).read_text(encoding="utf-8"))
    kinds = {what for _, what in _status_writes(tree)}
    assert "assigns an OutboxStatus to .status" in kinds
    assert "status=OutboxStatus..." in kinds
    assert any(k.startswith("insert_ignore(") for k in kinds)
    assert any(k.startswith("RowInserter(") for k in kinds)
    assert "OutboxMessage.__table__" in kinds
    sample = ast.parse(
        "update(OutboxMessage).where(x).values(status=s)\n"
        "row = {'status': OutboxStatus.SENT}\n"
        "status, error = OutboxStatus.FAILED, None\n"
        "OutboxMessage(kind='message')\n"
    )
    assert {what for _, what in _status_writes(sample)} >= {
        "update(OutboxMessage).values(status=...)",
        '{"status": OutboxStatus...}',
        "OutboxMessage(...)",
        "status = OutboxStatus...",
    }


# -- keys: the stored formats never change ------------------------------------------------------


def test_the_key_builders_keep_the_stored_formats() -> None:
    assert outbox.key_for_touchpoint(7, "welcome", "0", "contact_person", 12) == "m7:welcome:0:c12"
    assert (
        outbox.key_for_touchpoint(7, "survey", "2026-03-03:r1", "volunteer_family", 3)
        == "m7:survey:2026-03-03:r1:v3"
    )
    head, tail = outbox.touchpoint_key_affixes(7, "contact_person", 12)
    assert f"{head}welcome:0{tail}" == outbox.key_for_touchpoint(
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
