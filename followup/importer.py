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

from collections.abc import Mapping, Sequence
from datetime import date

from sqlalchemy.orm import Session, selectinload

from followup.certificates import match_blocker
from followup.import_base import (
    ACTOR,
    ImportResult,
    Person,
    Progress,
    assign,
    by_ref,
    optional_date,
)
from followup.import_file import FORMATS, ImportFailed, Problem, read_table, said
from followup.import_rows import (
    CONTACT_CHANNELS,
    REFERRAL_REFS,
    RELATIONS,
    ROLES,
    STATUSES,
    MatchLookups,
    Row,
    check_match_row,
    lookup,
    programme_of,
    split_refs,
)
from followup.import_values import A_DATE
from followup.import_waiting import WaitingImports
from followup.matches import sync_programmes
from scheduler.programme import Programme
from store.audit import record
from store.models import (
    Cadence,
    Child,
    ContactPerson,
    Match,
    MatchStatus,
    Referral,
    Staff,
    VolunteerFamily,
    WaitStatus,
)

__all__ = ["ACTOR", "KINDS", "ImportFailed", "ImportResult", "Problem", "import_csv"]

KINDS = ("staff", "families", "contacts", "matches", "referrals", "household")


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


class _Importer(WaitingImports):
    """Staff, families, contacts and matches."""

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
            row.parse("status_since", optional_date, A_DATE)
            programme_of(row, self.programmes, programme_rows, required=False)

        people = self._people(VolunteerFamily, read)
        self._reachable(people)
        self._waiting_status(people)
        self.check()
        return self._write_people(VolunteerFamily, "volunteer_family", people)

    def _waiting_status(self, people: list[Person]) -> None:
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
