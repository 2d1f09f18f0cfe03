"""Ledger entries and members' reports as the API lists them, with what each one needs shown:
the months an entry covers, the entry that reversed it, the payment a report became, names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from handlers.dues.access import can_collect
from handlers.errors import DomainError, NotFound
from models.dues import DuesMonth, DuesPayment, DuesReport
from models.org import Branch, Member

# The API's answer for a member, report or entry the caller may not see (or that is not there).
HIDDEN = "请求的资源不存在，或您无权查看。"


def hidden() -> DomainError:
    """Refuse as "not found": the answer does not tell whether the row exists."""
    return NotFound(HIDDEN, errcode="not_found")


@dataclass(frozen=True)
class Entries:
    """Ledger entries with their months, the entry reversing each, and the people's names."""

    rows: list[DuesPayment]
    months: dict[int, list[tuple[date, int]]] = field(default_factory=dict)
    reversed_by: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Reports:
    """Members' reports with the ledger entry a confirmation made, and the people's names."""

    rows: list[DuesReport]
    payment_of: dict[int, int] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)


def member_names(ids: set[int | None]) -> dict[int, str]:
    """The names of members by id (1 query, none without ids)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(Member.select(Member.id, Member.name).where(Member.id.in_(wanted)).tuples())


def entry_details(rows: list[DuesPayment]) -> Entries:
    """Ledger entries with their months and whether a later entry reversed them (3 queries)."""
    ids = [p.id for p in rows]
    months: dict[int, list[tuple[date, int]]] = {}
    reversed_by: dict[int, int] = {}
    if ids:
        covered = (
            DuesMonth.select(DuesMonth.payment, DuesMonth.month, DuesMonth.amount_fen)
            .where(DuesMonth.payment.in_(ids))
            .order_by(DuesMonth.month)
        )
        for row in covered:
            months.setdefault(row.payment_id, []).append((row.month, row.amount_fen))
        reversed_by = dict(
            DuesPayment.select(DuesPayment.reverses, DuesPayment.id)
            .where(DuesPayment.reverses.in_(ids))
            .tuples()
        )
    names = member_names({p.member_id for p in rows} | {p.recorded_by_id for p in rows})
    return Entries(rows, months, reversed_by, names)


def report_details(rows: list[DuesReport]) -> Reports:
    """Member reports with the ledger entry a confirmation made (2 queries)."""
    ids = [r.id for r in rows]
    payment_of: dict[int, int] = {}
    if ids:
        payment_of = dict(
            DuesPayment.select(DuesPayment.report, DuesPayment.id)
            .where(DuesPayment.report.in_(ids))
            .tuples()
        )
    names = member_names({r.member_id for r in rows} | {r.decided_by_id for r in rows})
    return Reports(rows, payment_of, names)


def recent_entries(member: Member, limit: int) -> Entries:
    """The member's newest ledger entries, newest first."""
    rows = list(
        DuesPayment.select()
        .where(DuesPayment.member == member.id)
        .order_by(DuesPayment.recorded_at.desc(), DuesPayment.id.desc())
        .limit(limit)
    )
    return entry_details(rows)


def branch_reports(branch: Branch, status: str, *, limit: int, offset: int) -> tuple[Reports, int]:
    """A page of the branch's reports in a status (pending: oldest first), and their count."""
    order = (
        (DuesReport.reported_at, DuesReport.id)
        if status == "pending"
        else (DuesReport.reported_at.desc(), DuesReport.id.desc())
    )
    select = (
        DuesReport.select(DuesReport)
        .join(Member, on=DuesReport.member == Member.id)
        .where(Member.branch == branch.id, DuesReport.status == status)
        .order_by(*order)
    )
    total = select.count()
    return report_details(list(select.limit(limit).offset(offset))), total


def branch_entries(
    branch: Branch, *, member_id: int | None, kind: str | None, limit: int, offset: int
) -> tuple[Entries, int]:
    """A page of the branch's ledger, newest first (one member's, one kind's), and its count."""
    select = (
        DuesPayment.select(DuesPayment)
        .join(Member, on=DuesPayment.member == Member.id)
        .where(Member.branch == branch.id)
    )
    if member_id is not None:
        target = Member.get_or_none(Member.id == member_id)
        if target is None or target.branch_id != branch.id:
            raise hidden()
        select = select.where(DuesPayment.member == target.id)
    if kind is not None:
        select = select.where(DuesPayment.kind == kind)
    select = select.order_by(DuesPayment.recorded_at.desc(), DuesPayment.id.desc())
    total = select.count()
    return entry_details(list(select.limit(limit).offset(offset))), total


def visible_member(actor: Member, member_id: int | None) -> Member:
    """A member whose dues the actor may handle; any other (or none) is hidden."""
    target = None if member_id is None else Member.get_or_none(Member.id == member_id)
    if target is None or not can_collect(actor, Branch.get_by_id(target.branch_id)):
        raise hidden()
    return target
