"""CSV import of the waiting list (referrals: children waiting for a family) and of a
family's household (its adults and teenagers, with their certificates' dates)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from followup.import_base import ImportResult, ImportRun, assign, by_ref, optional_date
from followup.import_file import said
from followup.import_rows import (
    CONTACT_REFS,
    FAMILY_REFS,
    STAFF_REFS,
    STATUSES,
    Row,
    lookup,
    programme_of,
)
from followup.import_values import (
    A_DATE,
    CHILD_NAME_PROBLEMS,
    MEMBER_NAME_PROBLEMS,
    birth_year_parser,
    member_birth_year_parser,
    name_problem,
    past_date_parser,
)
from followup.matches import sync_programmes
from store.audit import record
from store.models import Child, ContactPerson, HouseholdMember, Referral, Staff, VolunteerFamily
from store.validation import InvalidValue, check_child_name, check_member_name


class WaitingImports(ImportRun):
    """The referrals and household files."""

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
            row.parse("status_since", optional_date, A_DATE)
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
