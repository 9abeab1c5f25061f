"""What every kind of CSV import shares: the result, one run over a file (its rows, refs,
problems and progress), reading and writing people, and looking records up by ref.

The kinds themselves are in :mod:`followup.importer` (staff, families, contacts, matches) and
:mod:`followup.import_waiting` (referrals, the household).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.import_file import ImportFailed, Problem, Table, said, shown
from followup.import_rows import Row
from followup.import_values import parse_date
from scheduler import i18n
from scheduler.i18n import N_
from scheduler.programme import Programme
from store.audit import record
from store.models import (
    Base,
    Channel,
    ContactPerson,
    Locale,
    Match,
    MatchStatus,
    VolunteerFamily,
)
from store.validation import has_control

ACTOR = "cli:import"


@dataclass
class ImportResult:
    file: str
    kind: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def describe(self, texts: i18n.Texts) -> str:
        values = {"file": self.file, "created": self.created, "updated": self.updated}
        if self.unchanged:
            return texts.gettext(
                "%(file)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged",
                unchanged=self.unchanged,
                **values,
            )
        return texts.gettext("%(file)s: %(created)d created, %(updated)d updated", **values)


# -- the import ------------------------------------------------------------------------------------


# (phase, rows done, rows in the phase): "checking" every row first, then "writing" them.
Progress = Callable[[str, int, int], None]


@dataclass
class Person:
    """What a people file's row resolved to."""

    row: Row
    ref: str
    existing: Any


@dataclass
class ImportRun:
    """One file's import: its rows, their refs, the problems found, and how people are
    checked and written; each kind's own steps are in the subclasses."""

    session: Session
    kind: str
    table: Table
    programmes: Mapping[str, Programme]
    actor: str
    today: date
    progress: Progress | None = None
    languages: tuple[str, ...] = ("da", "en")
    problems: list[Problem] = field(default_factory=list)

    def locale(self, row: Row) -> None:
        """The person's language: one with a catalog that is reviewed or turned on."""
        code = row.cell("locale").strip().casefold()
        if code and code not in self.languages and code in {lang.code for lang in i18n.languages()}:
            message = N_(
                "%(value)s has a catalog that no native speaker has reviewed yet; it is off "
                "until the organisation turns it on (VENSKAB_LANGUAGES=%(code)s)"
            )
            row.fail("locale", said(message, value=shown(code), code=code))
            return
        row.choice("locale", {c: Locale(c) for c in self.languages}, empty=Locale.DA)

    def step(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(phase, done, total)

    @property
    def file(self) -> str:
        return self.table.file

    def rows(self) -> list[Row]:
        return [Row(self.file, line, cells, self.problems) for line, cells in self.table.rows]

    def refs(self, rows: Iterable[Row], column: str = "ref") -> dict[int, str]:
        """Each row's ref (by line), with duplicates within the file reported."""
        seen: dict[str, int] = {}
        out: dict[int, str] = {}
        for row in rows:
            ref = row.ref(column)
            if ref is None:
                continue
            if ref in seen:
                message = said(
                    "the ref %(ref)s is used on line %(line)d too", ref=shown(ref), line=seen[ref]
                )
                row.fail(column, message)
                continue
            seen[ref] = row.line
            out[row.line] = ref
        return out

    def check(self) -> None:
        if self.problems:
            self.problems.sort(key=lambda p: p.line or 0)
            raise ImportFailed(self.file, self.problems)

    # -- people ------------------------------------------------------------------------------

    def _people(self, model: type[Base], read: Callable[[Row], None]) -> list[Person]:
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(self.session, model, refs.values())
        people: list[Person] = []
        for done, row in enumerate(rows, 1):
            self.step("checking", done, len(rows))
            read(row)
            ref = refs.get(row.line)
            if ref is not None and row.ok:
                people.append(Person(row, ref, existing.get(ref)))
        return people

    @staticmethod
    def _effective(person: Person, attribute: str) -> Any:
        if attribute in person.row.values:
            return person.row.values[attribute]
        return getattr(person.existing, attribute, None) if person.existing is not None else None

    def _reachable(self, people: list[Person], preferred: bool = False) -> None:
        for person in people:
            phone, email = self._effective(person, "phone"), self._effective(person, "email")
            if not phone and not email:
                person.row.fail(
                    "phone" if person.row.has("phone") else "email",
                    said("give a phone number or an email address (at least one)"),
                )
                continue
            if not preferred:
                continue
            channel = person.row.values.get("preferred_channel")
            if channel is None and (person.row.has("preferred_channel") or person.existing is None):
                # Not given: SMS when there is a phone number, else email.
                person.row.values["preferred_channel"] = Channel.SMS if phone else Channel.EMAIL
            elif channel == Channel.SMS and not phone:
                person.row.fail("preferred_channel", said("sms needs a phone number"))
            elif channel == Channel.EMAIL and not email:
                person.row.fail("preferred_channel", said("email needs an email address"))

    def _write_people(self, model: type[Base], entity: str, people: list[Person]) -> ImportResult:
        result = ImportResult(self.file, self.kind)
        created: list[tuple[Any, int]] = []
        for done, person in enumerate(people, 1):
            self.step("writing", done, len(people))
            values = person.row.values
            if person.existing is None:
                obj = model(external_ref=person.ref, **values)
                self.session.add(obj)
                created.append((obj, person.row.line))
                continue
            obj = person.existing
            changed = assign(obj, values)
            if not changed:
                result.unchanged += 1
                continue
            if "phone" in changed and hasattr(obj, "phone_failed"):
                obj.phone_failed = False
            if "email" in changed and hasattr(obj, "email_failed"):
                obj.email_failed = False
            if changed & {"phone", "email", "preferred_channel"}:
                self._replan_people_matches(obj)
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                entity,
                obj.id,
                line=person.row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for obj, line in created:
            record(self.session, self.actor, "import.create", entity, obj.id, line=line)
        result.created = len(created)
        self.session.flush()
        return result

    def _replan_people_matches(self, obj: Any) -> None:
        """The channel of a planned message is chosen at planning: re-plan the person's open
        matches when their addresses change."""
        if isinstance(obj, VolunteerFamily):
            condition = Match.volunteer_family_id == obj.id
        elif isinstance(obj, ContactPerson):
            condition = Match.contacts.any(ContactPerson.id == obj.id)
        else:
            condition = Match.staff_id == obj.id
        for match in self.session.scalars(
            select(Match).where(condition, Match.status != MatchStatus.ENDED)
        ):
            match.plan_version = (match.plan_version or 1) + 1

    # -- the waiting list and the household ------------------------------------------------


def optional_date(value: str) -> date | None:
    return parse_date(value) if value else None


def by_ref(
    session: Session, model: Any, refs: Iterable[str], options: Sequence[Any] = ()
) -> dict[str, Any]:
    """The records with these refs, by ref (looked up in chunks). A ref with a control
    character names nothing (the row is refused for it) and is never sent to the database."""
    wanted = sorted({ref for ref in refs if ref and not has_control(ref)})
    found: dict[str, Any] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        query = select(model).where(model.external_ref.in_(chunk)).options(*options)
        for obj in session.scalars(query):
            found[obj.external_ref] = obj
    return found


def assign(obj: Any, values: Mapping[str, Any]) -> set[str]:
    """Set the attributes that differ; return the names of those changed."""
    changed: set[str] = set()
    for name, value in values.items():
        current = getattr(obj, name)
        if isinstance(value, list):
            same = [getattr(x, "id", x) for x in current] == [getattr(x, "id", x) for x in value]
        elif isinstance(value, Base):
            same = current is value or getattr(current, "id", None) == getattr(value, "id", None)
        else:
            same = current == value
        if not same:
            setattr(obj, name, value)
            changed.add(name)
    return changed
