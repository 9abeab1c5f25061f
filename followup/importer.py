"""CSV import of staff, volunteer families, contact persons and matches.

One file per kind, imported with ``venskab import KIND FILE``. The organisation's own id of each
record (``ref``) links the files together and makes the import idempotent: a row whose ref
exists already updates that record, a new ref creates one. Import the files in this order:
staff, families, contacts, matches; referrals (children waiting for a family) after contacts,
household (a family's adults and teenagers with their certificates' dates) after families.
The file and the columns of each kind are described in
:mod:`followup.import_file`; the checks of one row are in :mod:`followup.import_rows`.

Every row is validated before anything is written, and the whole file is imported in one
transaction: when any row fails, nothing is written. Each problem names the file, the line as
a spreadsheet shows it (the header is line 1), the column, and what was expected. Phone numbers,
emails and names are never repeated in messages or logs; a value that looks like a CPR number
is refused in any column.

Each created or updated record gets an audit entry (actor ``cli:import``) with the line number
and the names of the changed fields, never their values. A changed match (dates, weekday,
cadence, people) and the open matches of a person whose phone, email or preferred channel
changed get a new plan version, so that the planner re-plans them; nothing else is touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from followup.certificates import match_blocker
from followup.import_file import (
    FORMATS,
    ImportFailed,
    Problem,
    Table,
    read_table,
    said,
    shown,
)
from followup.import_rows import (
    A_DATE,
    CHILD_NAME_PROBLEMS,
    CONTACT_CHANNELS,
    CONTACT_REFS,
    FAMILY_REFS,
    MEMBER_NAME_PROBLEMS,
    REFERRAL_REFS,
    RELATIONS,
    ROLES,
    STAFF_REFS,
    STATUSES,
    MatchLookups,
    Row,
    birth_year_parser,
    check_match_row,
    lookup,
    member_birth_year_parser,
    name_problem,
    parse_date,
    past_date_parser,
    programme_of,
    split_refs,
)
from followup.matches import sync_programmes
from scheduler import i18n
from scheduler.i18n import N_
from scheduler.programme import Programme
from store.audit import record
from store.models import (
    Base,
    Cadence,
    Channel,
    Child,
    ContactPerson,
    HouseholdMember,
    Locale,
    Match,
    MatchStatus,
    Referral,
    Staff,
    VolunteerFamily,
    WaitStatus,
)
from store.validation import InvalidValue, check_child_name, check_member_name, has_control

__all__ = ["ACTOR", "KINDS", "ImportFailed", "ImportResult", "Problem", "import_csv"]

ACTOR = "cli:import"
KINDS = ("staff", "families", "contacts", "matches", "referrals", "household")


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


def import_csv(
    session: Session,
    kind: str,
    data: bytes,
    file: str,
    programmes: Mapping[str, Programme],
    *,
    actor: str = ACTOR,
    today: date,
    progress: Progress | None = None,
    languages: Sequence[str] = ("da", "en"),
) -> ImportResult:
    """Validate every row of ``data``, then create or update the records, or raise
    :class:`ImportFailed` having written nothing (the caller's transaction is rolled back).

    ``progress`` hears of each row checked and each row written (for a progress bar);
    ``languages`` are those a person may be given (``Settings.enabled_languages``)."""
    if kind not in FORMATS:
        raise ValueError(f"unknown kind {kind!r}: one of {', '.join(KINDS)}")
    table = read_table(data, file, FORMATS[kind])
    importer = _Importer(session, kind, table, programmes, actor, today, progress, tuple(languages))
    importer.problems.extend(table.problems)
    return getattr(importer, f"import_{kind}")()


@dataclass
class _Person:
    """What a people file's row resolved to."""

    row: Row
    ref: str
    existing: Any


@dataclass
class _Importer:
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

    def _people(self, model: type[Base], read: Callable[[Row], None]) -> list[_Person]:
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(self.session, model, refs.values())
        people: list[_Person] = []
        for done, row in enumerate(rows, 1):
            self.step("checking", done, len(rows))
            read(row)
            ref = refs.get(row.line)
            if ref is not None and row.ok:
                people.append(_Person(row, ref, existing.get(ref)))
        return people

    @staticmethod
    def _effective(person: _Person, attribute: str) -> Any:
        if attribute in person.row.values:
            return person.row.values[attribute]
        return getattr(person.existing, attribute, None) if person.existing is not None else None

    def _reachable(self, people: list[_Person], preferred: bool = False) -> None:
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

    def import_staff(self) -> ImportResult:
        def read(row: Row) -> None:
            row.text("name")
            row.choice("role", ROLES)
            row.text("region", required=False, limit=64)
            row.email(required=True)
            row.phone()
            self.locale(row)

        people = self._people(Staff, read)
        self.check()
        return self._write_people(Staff, "staff", people)

    def import_families(self) -> ImportResult:
        programme_rows = sync_programmes(self.session, self.programmes.values())

        def read(row: Row) -> None:
            row.text("name")
            row.text("contact_name")
            row.phone()
            row.email()
            row.text("region", required=False, limit=64)
            self.locale(row)
            row.choice("status", STATUSES, empty=None)
            row.parse("status_since", _optional_date, A_DATE)
            programme_of(row, self.programmes, programme_rows, required=False)

        people = self._people(VolunteerFamily, read)
        self._reachable(people)
        self._waiting_status(people)
        self.check()
        return self._write_people(VolunteerFamily, "volunteer_family", people)

    def _waiting_status(self, people: list[_Person]) -> None:
        """A new status starts today unless the row says since when; a family waiting for a
        match needs the programme it is approved for (its notes follow that programme)."""
        for person in people:
            values = person.row.values
            status = values.get("status")
            if status is None:  # no column, or an empty cell: the status stays as it is
                values.pop("status", None)
                values.pop("status_since", None)
                continue
            before = getattr(person.existing, "status", None)
            if values.get("status_since") is None:
                if before == status:
                    values.pop("status_since", None)
                else:
                    values["status_since"] = self.today
            if status == WaitStatus.WAITING and self._effective(person, "programme") is None:
                person.row.fail(
                    "programme",
                    said("a family waiting for a match needs the programme it is approved for"),
                )

    def import_contacts(self) -> ImportResult:
        def read(row: Row) -> None:
            row.text("name")
            row.choice("relation", RELATIONS)
            row.phone()
            row.email()
            self.locale(row)
            row.choice("preferred_channel", CONTACT_CHANNELS, empty=None)

        people = self._people(ContactPerson, read)
        self._reachable(people, preferred=True)
        self.check()
        return self._write_people(ContactPerson, "contact_person", people)

    def _write_people(self, model: type[Base], entity: str, people: list[_Person]) -> ImportResult:
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

    def import_referrals(self) -> ImportResult:
        programme_rows = sync_programmes(self.session, self.programmes.values())
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(
            self.session, Referral, refs.values(), options=(selectinload(Referral.child),)
        )
        contacts = by_ref(self.session, ContactPerson, (r.cell("contact_ref") for r in rows))
        staff = by_ref(self.session, Staff, (r.cell("staff_ref") for r in rows))
        year = self.today.year
        plans: list[tuple[Row, str]] = []
        for done, row in enumerate(rows, 1):
            self.step("checking", done, len(rows))
            programme_of(row, self.programmes, programme_rows)
            if row.has("child_name"):
                try:
                    row.values["first_name"] = check_child_name(row.cell("child_name"))
                except InvalidValue as exc:
                    row.fail("child_name", name_problem(exc, CHILD_NAME_PROBLEMS))
            row.parse(
                "child_birth_year",
                birth_year_parser(self.today),
                said("a birth year between %(first)d and %(last)d", first=year - 30, last=year),
                attribute="birth_year",
            )
            lookup(row, "contact_ref", contacts, CONTACT_REFS, "contact_person")
            if row.cell("staff_ref"):
                lookup(row, "staff_ref", staff, STAFF_REFS, "staff")
            row.text("region", required=False, limit=64)
            row.choice("status", STATUSES)
            row.parse("status_since", _optional_date, A_DATE)
            ref = refs.get(row.line)
            if ref is not None and row.ok:
                plans.append((row, ref))
        self.check()
        result = ImportResult(self.file, "referrals")
        created: list[tuple[Referral, int]] = []
        for done, (row, ref) in enumerate(plans, 1):
            self.step("writing", done, len(plans))
            values = dict(row.values)
            child_values = {k: values.pop(k) for k in ("first_name", "birth_year")}
            referral = existing.get(ref)
            if values.get("status_since") is None:
                values.pop("status_since", None)
                if referral is None or referral.status != values["status"]:
                    values["status_since"] = self.today
            if referral is None:
                referral = Referral(external_ref=ref, child=Child(**child_values), **values)
                self.session.add(referral)
                created.append((referral, row.line))
                continue
            changed = assign(referral, values)
            changed |= {f"child.{name}" for name in assign(referral.child, child_values)}
            if not changed:
                result.unchanged += 1
                continue
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                "referral",
                referral.id,
                line=row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for referral, line in created:
            record(self.session, self.actor, "import.create", "referral", referral.id, line=line)
        result.created = len(created)
        self.session.flush()
        return result

    def import_household(self) -> ImportResult:
        """One row per adult or teenager of a volunteer family, found again by family, first
        name and birth year; the certificates' dates (empty: none yet)."""
        rows = self.rows()
        families = by_ref(self.session, VolunteerFamily, (r.cell("family_ref") for r in rows))
        plans: list[tuple[Row, tuple[int, str, int]]] = []
        seen: dict[tuple[int, str, int], int] = {}
        for done, row in enumerate(rows, 1):
            self.step("checking", done, len(rows))
            lookup(row, "family_ref", families, FAMILY_REFS, "family")
            if row.has("first_name"):
                try:
                    row.values["first_name"] = check_member_name(row.cell("first_name"))
                except InvalidValue as exc:
                    row.fail("first_name", name_problem(exc, MEMBER_NAME_PROBLEMS))
            row.parse(
                "birth_year",
                member_birth_year_parser(self.today),
                said("a birth year such as 1984"),
            )
            for column in ("child_certificate_on", "criminal_record_on"):
                row.parse(
                    column,
                    past_date_parser(self.today),
                    said("a date such as 2025-03-02 (YYYY-MM-DD), not after today, or empty"),
                )
            if not row.ok:
                continue
            key = (
                row.values["family"].id,
                row.values["first_name"].casefold(),
                row.values["birth_year"],
            )
            if key in seen:
                message = said("the same person is on line %(line)d too", line=seen[key])
                row.fail("first_name", message)
                continue
            seen[key] = row.line
            plans.append((row, key))
        self.check()
        result = ImportResult(self.file, "household")
        known: dict[tuple[int, str, int], HouseholdMember] = {}
        family_ids = sorted({key[0] for _, key in plans})
        for found in self.session.scalars(
            select(HouseholdMember).where(HouseholdMember.volunteer_family_id.in_(family_ids))
        ):
            known[(found.volunteer_family_id, found.first_name.casefold(), found.birth_year)] = (
                found
            )
        created: list[tuple[HouseholdMember, int]] = []
        for done, (row, key) in enumerate(plans, 1):
            self.step("writing", done, len(plans))
            values = dict(row.values)
            family = values.pop("family")
            member = known.get(key)
            if member is None:
                new = HouseholdMember(volunteer_family_id=family.id, **values)
                self.session.add(new)
                created.append((new, row.line))
                continue
            changed = assign(member, values)
            if not changed:
                result.unchanged += 1
                continue
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                "household_member",
                member.id,
                line=row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for member, line in created:
            record(
                self.session, self.actor, "import.create", "household_member", member.id, line=line
            )
        result.created = len(created)
        self.session.flush()
        return result

    # -- matches -----------------------------------------------------------------------------

    def import_matches(self) -> ImportResult:
        programme_rows = sync_programmes(self.session, self.programmes.values())
        rows = self.rows()
        refs = self.refs(rows)
        existing = by_ref(
            self.session,
            Match,
            refs.values(),
            options=(selectinload(Match.contacts), selectinload(Match.child)),
        )
        found = MatchLookups(
            programmes=self.programmes,
            programme_rows=programme_rows,
            families=by_ref(self.session, VolunteerFamily, (r.cell("family_ref") for r in rows)),
            staff=by_ref(self.session, Staff, (r.cell("staff_ref") for r in rows)),
            contacts=by_ref(
                self.session,
                ContactPerson,
                (ref for r in rows for ref in split_refs(r.cell("contact_refs"))),
            ),
            today=self.today,
        )
        referrals = by_ref(self.session, Referral, (r.cell("referral_ref") for r in rows))
        plans: list[tuple[Row, str]] = []
        for done, row in enumerate(rows, 1):
            self.step("checking", done, len(rows))
            check_match_row(row, found)
            if row.cell("referral_ref"):
                lookup(row, "referral_ref", referrals, REFERRAL_REFS, "referral")
            ref = refs.get(row.line)
            if ref is not None and row.ok and ref not in existing:
                self._may_be_matched(row)
            if ref is not None and row.ok:
                plans.append((row, ref))
        self.check()
        return self._write_matches(plans, existing)

    def _may_be_matched(self, row: Row) -> None:
        """A new match needs the family's certificates (:mod:`followup.certificates`)."""
        family = row.values["volunteer_family"]
        programme = self.programmes[row.values["programme"].slug]
        blocker = match_blocker(self.session, family, programme, row.values["start_date"])
        if blocker is not None:
            row.fail("family_ref", blocker)
        referral = row.values.get("referral")
        if referral is not None and referral.match_id is not None:
            row.fail("referral_ref", said("this referral is matched already"))

    def _write_matches(
        self, plans: list[tuple[Row, str]], existing: Mapping[str, Match]
    ) -> ImportResult:
        result = ImportResult(self.file, "matches")
        created: list[tuple[Match, int]] = []
        for done, (row, ref) in enumerate(plans, 1):
            self.step("writing", done, len(plans))
            values = dict(row.values)
            programme_row = values.pop("programme")
            referral = values.pop("referral", None)
            child_values = {k: values.pop(k) for k in ("first_name", "birth_year")}
            if not values.get("region"):
                values["region"] = values["volunteer_family"].region
            if values.get("cadence") is None:
                values["cadence"] = Cadence(self.programmes[programme_row.slug].cadence.value)
            match = existing.get(ref)
            if match is None:
                child = referral.child if referral is not None else Child(**child_values)
                if referral is not None:
                    assign(child, child_values)
                match = Match(
                    external_ref=ref,
                    programme=programme_row,
                    child=child,
                    status=MatchStatus.ACTIVE,
                    **values,
                )
                self.session.add(match)
                created.append((match, row.line))
                _matched(values["volunteer_family"], referral, match, self.today)
                continue
            if "cadence" not in row.cells:
                values.pop("cadence")  # the column is absent: keep what the match has
            changed = assign(match, {"programme": programme_row, **values})
            changed |= {f"child.{name}" for name in assign(match.child, child_values)}
            if not changed:
                result.unchanged += 1
                continue
            if changed - {"sibling", "child.first_name", "child.birth_year"}:
                match.plan_version = (match.plan_version or 1) + 1
            result.updated += 1
            record(
                self.session,
                self.actor,
                "import.update",
                "match",
                match.id,
                line=row.line,
                fields=sorted(changed),
            )
        self.session.flush()
        for match, line in created:
            record(
                self.session,
                self.actor,
                "import.create",
                "match",
                match.id,
                line=line,
                child=match.child_id,
            )
        result.created = len(created)
        self.session.flush()
        return result


def _matched(family: VolunteerFamily, referral: Referral | None, match: Match, today: date) -> None:
    """Matching takes the family and the referred child off the waiting list."""
    if family.status != WaitStatus.MATCHED:
        family.status, family.status_since = WaitStatus.MATCHED, today
    if referral is not None:
        referral.status, referral.status_since, referral.match = WaitStatus.MATCHED, today, match


def _optional_date(value: str) -> date | None:
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
