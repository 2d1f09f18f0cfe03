"""Following up members flagged as lost contact (失联党员): the branch's cases with their last
outcome, and the outcome a manager records (联系上, 流动党员 with where they are, 仍未联系上,
停止党籍 started).

A flagged member is a party member out of touch (handlers.organization.touch). The case is
open until an outcome is recorded, and opens again when the member is still out of touch once
the outcome's span ([lost_contact]) is over. Recording an outcome never changes the member's
status: membership changes go through the roster and handlers.membership (leaving,
transfers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from core.config import Settings
from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.errors import DomainError, Invalid
from handlers.organization.base import Person, checked_text, day_text, local_today, people
from handlers.organization.touch import (
    is_open,
    lost_contact_people,
    open_cases,
    out_of_touch,
    reopens_on,
)
from handlers.roster.access import managed_member
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Branch, Member
from models.organization import OUTCOMES, ContactOutcome


@dataclass(frozen=True)
class Outcome:
    outcome: ContactOutcome
    recorded_by: Person | None


@dataclass(frozen=True)
class Case:
    """A member out of touch, with their last outcome and whether the case is open."""

    member: Person
    last_active_at: datetime | None
    last: Outcome | None
    open: bool
    reopens_on: date | None  # when a handled case opens again if still out of touch


@dataclass(frozen=True)
class CasePage:
    branch: Branch
    cases: list[Case]  # open ones first, then by member
    total: int
    open_count: int
    days: int  # alerts.lost_contact_days
    limit: int
    offset: int


def _last_outcomes(member_ids: list[int]) -> dict[int, Outcome]:
    """Each member's latest outcome (of any age), with who recorded it, in two queries."""
    if not member_ids:
        return {}
    rows = (
        ContactOutcome.select()
        .where(ContactOutcome.member.in_(member_ids))
        .order_by(ContactOutcome.happened_on, ContactOutcome.id)
    )
    latest = {row.member_id: row for row in rows}
    names = people(r.recorded_by_id for r in latest.values())
    return {m: Outcome(r, names.get(r.recorded_by_id)) for m, r in latest.items()}


def _cases(members: list[Member], today: date, settings: Settings) -> list[Case]:
    last = _last_outcomes([m.id for m in members])
    cases = []
    for m in members:
        found = last.get(m.id)
        row = found.outcome if found else None
        handled = row is not None and not is_open(row, today, settings)
        cases.append(
            Case(
                Person(m.id, m.name),
                m.last_active_at,
                found,
                not handled,
                reopens_on(row, settings) if row is not None else None,
            )
        )
    return cases


def branch_cases(
    actor: Member,
    branch_id: int | None,
    *,
    now: datetime,
    settings: Settings,
    limit: int,
    offset: int,
) -> CasePage:
    """The branch's members out of touch with their last outcome, open cases first, for its
    managers (a committee admin's too)."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    today = local_today(now, settings)
    members = list(
        Member.select(Member.id, Member.name, Member.last_active_at)
        .where(out_of_touch(now, settings), Member.branch == branch.id)
        .order_by(Member.id)
    )
    cases = _cases(members, today, settings)
    cases.sort(key=lambda c: (not c.open, c.member.id))
    return CasePage(
        branch,
        cases[offset : offset + limit],
        len(cases),
        sum(c.open for c in cases),
        settings.alerts.lost_contact_days,
        limit,
        offset,
    )


def _checked_day(happened_on: date, today: date, settings: Settings) -> date:
    if happened_on > today:
        raise Invalid(f"联系结果的日期 {day_text(happened_on)} 晚于今天，请填写已经发生的日期。")
    days = settings.alerts.lost_contact_days
    earliest = today - timedelta(days=days)
    if happened_on < earliest:
        raise Invalid(
            f"联系结果的日期应在最近 {days} 天内（{day_text(earliest)} 以后），"
            f"请填写这次跟进的日期。"
        )
    return happened_on


def _checked_fields(
    outcome: str, place: str, note: str, settings: Settings
) -> tuple[str, str, str]:
    if outcome not in OUTCOMES:
        raise Invalid(f"联系结果应为以下之一：{'、'.join(OUTCOMES.values())}。")
    cfg = settings.lost_contact
    place = checked_text(place, "所在地", cfg.place_max_chars, required=outcome == "away")
    return outcome, place, checked_text(note, "说明", cfg.note_max_chars)


def record_outcome(
    actor: Member,
    member_id: int,
    *,
    outcome: str,
    happened_on: date,
    place: str = "",
    note: str = "",
    now: datetime,
    settings: Settings,
) -> Case:
    """Record what the follow-up of a member out of touch found; the member's status stays as
    it is. A member of a branch the actor does not manage is not found; one in touch is
    refused (not_flagged)."""
    target = managed_member(actor, member_id)
    today = local_today(now, settings)
    outcome, place, note = _checked_fields(outcome, place, note, settings)
    _checked_day(happened_on, today, settings)
    flagged = Member.select(Member.id).where(out_of_touch(now, settings), Member.id == target.id)
    if not flagged.exists():
        raise DomainError(
            f"{target.name}最近 {settings.alerts.lost_contact_days} 天内有互动，不在失联党员"
            "名单中，无需登记联系结果。",
            errcode="not_flagged",
        )
    with write_tx():
        ContactOutcome.create(
            member=target.id,
            outcome=outcome,
            happened_on=happened_on,
            place=place,
            note=note,
            recorded_by=actor.id,
            recorded_at=now,
        )
        where = f"（{place}）" if place else ""
        record(
            actor,
            "contact.outcome",
            summary=f"登记失联党员联系结果：{target.name} {OUTCOMES[outcome]}{where}",
            target=f"member:{target.id}",
            branch_id=target.branch_id,
            after={"outcome": outcome, "happened_on": happened_on, "place": place, "note": note},
            now=now,
        )
    return _cases([target], today, settings)[0]


def open_counts(now: datetime, settings: Settings, committee_id: int | None) -> dict[int, int]:
    """Open cases per branch id (of one committee, or all): counts, never names."""
    today = local_today(now, settings)
    scope = None
    if committee_id is not None:
        scope = Member.branch.in_(Branch.select(Branch.id).where(Branch.committee == committee_id))
    found = open_cases(lost_contact_people(now, settings, scope), today, settings, scope)
    return {branch_id: len(members) for branch_id, members in found.items()}
