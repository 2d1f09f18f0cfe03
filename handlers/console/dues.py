"""The console's dues pages: the month grid, the collectors' desk and the categories, and the
dues use cases scoped to the branch in the page's address.

Every read takes the dues package's own judgement (Book.state / Book.due, as 党费 情况 and
GET /api/v1/dues/branch do); every write calls the use case the API calls (collect,
confirm_report_id, reject_report_id, reverse_payment_id), after checking that what it acts on
belongs to the branch: a row of another branch is refused as not found, like the API does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN

from handlers.binding import touch
from handlers.branches import branch_acted_for
from handlers.dues import (
    BASED_CATEGORIES,
    DUES_ROLES,
    Book,
    Collected,
    Entries,
    Reports,
    Settings,
    add_months,
    branch_dues,
    branch_entries,
    branch_reports,
    collect,
    confirm_report_id,
    entry_details,
    hidden,
    month_span,
    monthly_amount,
    reject_report_id,
    reverse_payment_id,
    set_assessment,
    this_month,
)
from models.base import write_tx
from models.dues import DuesAssessment, DuesPayment, DuesReport
from models.org import PARTY_MEMBER_STATUSES, Branch, Member

GRID_MONTHS = 12
PENDING_SHOWN = 100


def dues_branch(actor: Member, branch_id: int) -> Branch:
    """The branch whose dues the actor handles: its secretary or collector, or a committee
    admin of its committee; any other branch is refused."""
    return branch_acted_for(actor, branch_id, DUES_ROLES)


# ---- the month grid ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """A member's month: paid | owed | exempt | ahead | before | unset | none (Book.state).

    ``fen`` is the sum paid for a paid month, else the month's dues (None when unknown);
    ``relieved`` marks a month under approved hardship relief (减交 or 免交).
    """

    state: str
    fen: int | None
    relieved: bool


@dataclass(frozen=True)
class GridRow:
    member_id: int
    name: str
    status: str
    cells: list[Cell]

    @property
    def owed_fen(self) -> int:
        return sum(c.fen or 0 for c in self.cells if c.state == "owed")


@dataclass(frozen=True)
class MonthTotal:
    """A month's dues for the branch, added up as branch_month_summary does."""

    month: date
    expected_fen: int
    collected_fen: int


@dataclass(frozen=True)
class DuesGrid:
    branch: Branch
    months: list[date]
    current: date
    rows: list[GridRow]
    totals: list[MonthTotal]
    pending: int  # members' reports waiting for a collector
    unset: list[str]  # party members without a category


def grid_months(year: int | None, current: date) -> list[date]:
    """A calendar year's months, or the last GRID_MONTHS months through the current one."""
    if year is not None:
        return month_span(date(year, 1, 1), date(year, 12, 1))
    return month_span(add_months(current, 1 - GRID_MONTHS), current)


def _cell(book: Book, month: date, current: date, settings: Settings) -> Cell:
    state = book.state(month, settings, current)
    due = book.due(month, settings)
    if state == "paid":
        return Cell(state, book.paid[month].amount_fen, due.relief is not None)
    fen = due.amount_fen if due.state in ("due", "exempt") else None
    return Cell(state, fen, due.relief is not None)


def _total(books: list[Book], month: date, settings: Settings) -> MonthTotal:
    """Expected: the dues of members with something due; collected: dues paid for the month
    (views.branch_month_summary's sums, from the books already loaded)."""
    expected = collected = 0
    for book in books:
        paid = book.paid.get(month)
        if paid is not None:
            collected += paid.amount_fen
        due = book.due(month, settings)
        if due.state == "due":
            expected += due.amount_fen
    return MonthTotal(month, expected, collected)


def dues_grid(
    actor: Member, branch_id: int, year: int | None, *, now: datetime, settings: Settings
) -> DuesGrid:
    """The branch's party members × months, each cell judged by the dues rules, and each
    month's expected and collected sums; a fixed number of queries whatever the members."""
    branch = dues_branch(actor, branch_id)
    current = this_month(now, ZoneInfo(settings.app.timezone))
    months = grid_months(year, current)
    view = branch_dues(actor, branch, current, now=now, settings=settings)
    books = sorted(view.books.values(), key=lambda b: b.member_id)
    rows = [
        GridRow(b.member_id, b.name, b.status, [_cell(b, m, current, settings) for m in months])
        for b in books
    ]
    totals = [_total(books, m, settings) for m in months]
    return DuesGrid(branch, months, current, rows, totals, len(view.pending), view.unset)


# ---- the collectors' desk: record, confirm, send back, reverse --------------------------------


@dataclass(frozen=True)
class DuesDesk:
    branch: Branch
    members: list[tuple[int, str]]  # the party members, for the payment form
    pending: Reports  # oldest first
    entries: Entries  # newest first
    total_entries: int


def party_members_of(branch: Branch) -> list[tuple[int, str]]:
    """The branch's party members (id, name), who pay dues."""
    query = (
        Member.select(Member.id, Member.name)
        .where(Member.branch == branch.id, Member.status.in_(PARTY_MEMBER_STATUSES))
        .order_by(Member.id)
    )
    return list(query.tuples())


def dues_desk(actor: Member, branch_id: int, *, limit: int, offset: int) -> DuesDesk:
    """The branch's members to record for, the reports to decide and a page of the ledger."""
    branch = dues_branch(actor, branch_id)
    pending, _ = branch_reports(branch, "pending", limit=PENDING_SHOWN, offset=0)
    entries, total = branch_entries(branch, member_id=None, kind=None, limit=limit, offset=offset)
    return DuesDesk(branch, party_members_of(branch), pending, entries, total)


def _member_in(branch: Branch, member_id: int | None) -> Member:
    member = None if member_id is None else Member.get_or_none(Member.id == member_id)
    if member is None or member.branch_id != branch.id:
        raise hidden()
    return member


def _report_in(branch: Branch, report_id: int) -> None:
    found = (
        DuesReport.select(DuesReport.id)
        .join(Member, on=DuesReport.member == Member.id)
        .where(DuesReport.id == report_id, Member.branch == branch.id)
        .exists()
    )
    if not found:
        raise hidden()


def _payment_in(branch: Branch, payment_id: int) -> DuesPayment:
    payment = (
        DuesPayment.select(DuesPayment)
        .join(Member, on=DuesPayment.member == Member.id)
        .where(DuesPayment.id == payment_id, Member.branch == branch.id)
        .first()
    )
    if payment is None:
        raise hidden()
    return payment


def record_in_branch(
    actor: Member,
    branch_id: int,
    member_id: int | None,
    kind: str,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> Collected:
    """收党费 for a member of the branch: the API's collect."""
    member = _member_in(dues_branch(actor, branch_id), member_id)
    return collect(
        actor, member.id, kind, amount_fen, months, now=now, settings=settings, note=note
    )


def confirm_in_branch(
    actor: Member, branch_id: int, report_id: int, *, now: datetime, settings: Settings
) -> tuple[Reports, Entries]:
    """确认党费 of a report in the branch: the API's confirm_report_id."""
    _report_in(dues_branch(actor, branch_id), report_id)
    return confirm_report_id(actor, report_id, now=now, settings=settings)


def reject_in_branch(
    actor: Member, branch_id: int, report_id: int, reason: str, *, now: datetime
) -> Reports:
    """退回党费 of a report in the branch: the API's reject_report_id."""
    _report_in(dues_branch(actor, branch_id), report_id)
    return reject_report_id(actor, report_id, reason, now=now)


def entry_in_branch(actor: Member, branch_id: int, payment_id: int) -> tuple[Branch, Entries]:
    """A ledger entry of the branch with its months and whether it was reversed."""
    branch = dues_branch(actor, branch_id)
    return branch, entry_details([_payment_in(branch, payment_id)])


def reverse_in_branch(
    actor: Member, branch_id: int, payment_id: int, reason: str, *, now: datetime
) -> Entries:
    """更正党费 of an entry in the branch: the API's reverse_payment_id."""
    _payment_in(dues_branch(actor, branch_id), payment_id)
    return reverse_payment_id(actor, payment_id, reason, now=now)


# ---- categories and bases ---------------------------------------------------------------------


@dataclass(frozen=True)
class Assessed:
    """An assessment as the history shows it: the row, its monthly dues and who recorded it."""

    row: Any
    monthly_fen: int
    recorded_by: str


@dataclass(frozen=True)
class MemberCategory:
    member_id: int
    name: str
    status: str
    history: list[Assessed]  # oldest first
    current: Assessed | None  # in effect this month (or the first one, if it starts later)


@dataclass(frozen=True)
class DuesCategories:
    branch: Branch
    month: date
    members: list[MemberCategory]


def _in_effect(history: list[Assessed], month: date) -> Assessed | None:
    found = None
    for item in history:  # ordered by (from_month, id): the latest not after the month wins
        if item.row.from_month > month:
            break
        found = item
    return found or (history[0] if history else None)


def dues_categories(
    actor: Member, branch_id: int, *, now: datetime, settings: Settings
) -> DuesCategories:
    """Each party member's category and base with their history (3 queries after access)."""
    branch = dues_branch(actor, branch_id)
    month = this_month(now, ZoneInfo(settings.app.timezone))
    members = (
        Member.select(Member.id, Member.name, Member.status)
        .where(Member.branch == branch.id, Member.status.in_(PARTY_MEMBER_STATUSES))
        .order_by(Member.id)
    )
    recorder = Member.alias()
    rows = (
        DuesAssessment.select(DuesAssessment, recorder.name.alias("recorder_name"))
        .join(Member, on=DuesAssessment.member == Member.id)
        .switch(DuesAssessment)
        .join(recorder, on=DuesAssessment.recorded_by == recorder.id, join_type=JOIN.LEFT_OUTER)
        .where(Member.branch == branch.id)
        .order_by(DuesAssessment.from_month, DuesAssessment.id)
        .objects()
    )
    histories: dict[int, list[Assessed]] = {}
    for row in rows:
        fen = monthly_amount(row.category, row.base_fen, row.fixed_fen, settings)
        item = Assessed(row, fen, row.recorder_name or "")
        histories.setdefault(row.member_id, []).append(item)
    out = []
    for m in members:
        history = histories.get(m.id, [])
        out.append(MemberCategory(m.id, m.name, m.status, history, _in_effect(history, month)))
    return DuesCategories(branch, month, out)


def set_category_in_branch(
    actor: Member,
    branch_id: int,
    member_id: int | None,
    category: str,
    amount_fen: int | None,
    from_month: date,
    *,
    approved_by: str = "",
    note: str = "",
    now: datetime,
    settings: Settings,
) -> DuesAssessment:
    """党费 设置 for a member of the branch: set_assessment, the amount being the base of a
    based category or the farmer's fixed sum (as the bot's set_category_named passes it)."""
    member = _member_in(dues_branch(actor, branch_id), member_id)
    with write_tx():
        row = set_assessment(
            actor,
            member,
            category,
            base_fen=amount_fen if category in BASED_CATEGORIES else None,
            fixed_fen=amount_fen if category == "farmer" else None,
            from_month=from_month,
            approved_by=approved_by,
            note=note,
            now=now,
            settings=settings,
        )
        touch(actor, now)
    return row
