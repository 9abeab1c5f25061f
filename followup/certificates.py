"""The child and criminal record certificates of a volunteer family's household.

Every volunteer from the programme's ``certificates.required_from_age`` (15: "der indhentes
børne- og straffeattest på alle over 15 år") delivers a child record certificate (børneattest)
and a criminal record certificate (straffeattest). Only their dates are stored, per household
member (first name and birth year); a certificate is valid for ``valid_for`` from its date.

A new match needs every such member of the family to hold both certificates, valid on the
match's start day: :func:`match_blocker` says in one sentence what is missing, and every place
that creates a match (the matches import, on the command line and on the import page) refuses
it with that sentence. Ages are known by birth year only, so a member counts from the year they
turn 15. A family with no household members recorded is not checked (its certificates are kept
elsewhere); the match page shows that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from followup.said import Said, said
from scheduler.i18n import N_
from scheduler.programme import Certificates, Programme
from store.models import HouseholdMember, VolunteerFamily

# What a member lacks, by the column that holds the certificate's date.
LACKS = {
    "child_certificate_on": N_("%(name)s (born %(year)d) has no valid child record certificate"),
    "criminal_record_on": N_("%(name)s (born %(year)d) has no valid criminal record certificate"),
}
LACKS_BOTH = N_(
    "%(name)s (born %(year)d) has neither a valid child record certificate nor a valid "
    "criminal record certificate"
)


@dataclass(frozen=True)
class CertificateState:
    """One certificate of one member, as the match page shows it."""

    kind: str  # child_certificate_on | criminal_record_on
    issued: date | None
    expires: date | None
    valid: bool
    required: bool


@dataclass(frozen=True)
class MemberState:
    member: HouseholdMember
    required: bool
    certificates: tuple[CertificateState, ...]

    @property
    def ok(self) -> bool:
        return not self.required or all(c.valid for c in self.certificates)


def members_of(session: Session, family_id: int) -> list[HouseholdMember]:
    return list(
        session.scalars(
            select(HouseholdMember)
            .where(HouseholdMember.volunteer_family_id == family_id)
            .order_by(HouseholdMember.birth_year, HouseholdMember.id)
        )
    )


def state_of(member: HouseholdMember, rules: Certificates, on: date) -> MemberState:
    """Which of ``member``'s certificates are valid on ``on``, and whether they need them."""
    required = on.year - member.birth_year >= rules.required_from_age
    states = []
    for kind in LACKS:
        issued: date | None = getattr(member, kind)
        expires = rules.valid_for.add(issued) if issued is not None else None
        valid = issued is not None and expires is not None and issued <= on < expires
        states.append(CertificateState(kind, issued, expires, valid, required))
    return MemberState(member, required, tuple(states))


def household_state(
    session: Session, family_id: int, programme: Programme | None, on: date
) -> list[MemberState]:
    rules = programme.certificates if programme is not None else None
    return [state_of(m, rules or Certificates(), on) for m in members_of(session, family_id)]


def match_blocker(
    session: Session, family: VolunteerFamily, programme: Programme, on: date
) -> Said | None:
    """Why ``family`` cannot be matched under ``programme`` from ``on``, or None."""
    rules = programme.certificates
    if rules is None:
        return None
    missing: list[Said] = []
    for member in members_of(session, family.id):
        state = state_of(member, rules, on)
        if state.ok:
            continue
        lacking = [c.kind for c in state.certificates if not c.valid]
        message = LACKS_BOTH if len(lacking) > 1 else LACKS[lacking[0]]
        missing.append(said(message, name=member.first_name, year=member.birth_year))
    if not missing:
        return None
    return said(
        "the volunteer family cannot be matched from %(day)s: %(missing)s. Everyone from "
        "%(age)d needs both certificates, valid on the start day: record their dates (venskab "
        "import household FILE), then import the match",
        day=on.isoformat(),
        missing=tuple(missing),
        age=rules.required_from_age,
    )
