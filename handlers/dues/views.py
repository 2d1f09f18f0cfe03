"""Views of a member's and a branch's dues, and every branch's month summary."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from handlers.dues.access import require_collector
from handlers.dues.book import Book, Due
from handlers.dues.bulk import Ledger, gc_paused, load_ledger
from handlers.dues.lapse import LapseAlert, lapse_alerts, ledger_and_lapse_alerts_started
from handlers.dues.loaders import fill_paid, load_book, load_books, party_members
from handlers.dues.money import Settings
from handlers.dues.months import this_month
from handlers.dues.owing import MemberOwing, owing_of
from handlers.dues.report import pending_report
from models.dues import (
    DuesReport,
)
from models.org import Branch, Member


@dataclass
class MemberDues:
    """A member's own dues: this month's amount, months paid and owed, the total owed."""

    member: Member
    month: date
    book: Book
    due: Due
    paid: list[date]
    owed: list[tuple[date, int]]
    pending: DuesReport | None

    @property
    def owed_fen(self) -> int:
        return sum(fen for _, fen in self.owed)

    @property
    def paid_fen(self) -> int:
        return sum(self.book.paid[m].amount_fen for m in self.paid)


def member_dues(member: Member, *, now: datetime, settings: Settings) -> MemberDues:
    """Return the member's dues as of now (5 queries)."""
    tz = ZoneInfo(settings.app.timezone)
    current = this_month(now, tz)
    book = load_book(member)
    return MemberDues(
        member=member,
        month=current,
        book=book,
        due=book.due(current, settings),
        paid=sorted(book.paid),
        owed=book.owed(settings, current),
        pending=pending_report(member),
    )


@dataclass(frozen=True)
class BranchMonthSummary:
    """One branch's dues for one month: expected and collected fen, and the members."""

    branch_id: int
    branch_name: str
    month: date
    expected_fen: int
    collected_fen: int
    members_due: int  # party members with something due that month
    members_paid: int
    members_exempt: int
    members_unset: int  # party members without a category: amount unknown

    @property
    def rate(self) -> Decimal | None:
        """Collected / expected, to 4 decimals; None when nothing was expected."""
        if not self.expected_fen:
            return None
        return (Decimal(self.collected_fen) / Decimal(self.expected_fen)).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )


def _summaries(
    branches: list[Any], judged: Iterable[tuple[int, int | None, str, int]], month: date
) -> list[BranchMonthSummary]:
    """Add up per branch each member's (branch id, fen paid for the month or None, the
    month's due state, its fen)."""
    # Per branch: expected, collected, due, paid, exempt, unset.
    acc: dict[int, list[int]] = {b.id: [0, 0, 0, 0, 0, 0] for b in branches}
    for branch_id, paid_fen, state, fen in judged:
        row = acc.get(branch_id)
        if row is None:
            continue
        if paid_fen is not None:
            row[1] += paid_fen
        if state == "due":
            row[0] += fen
            row[2] += 1
            if paid_fen is not None:
                row[3] += 1
        elif state == "exempt":
            row[4] += 1
        elif state == "unset":
            row[5] += 1
    return [
        BranchMonthSummary(
            branch_id=b.id,
            branch_name=b.name,
            month=month,
            expected_fen=acc[b.id][0],
            collected_fen=acc[b.id][1],
            members_due=acc[b.id][2],
            members_paid=acc[b.id][3],
            members_exempt=acc[b.id][4],
            members_unset=acc[b.id][5],
        )
        for b in branches
    ]


def _judged_books(
    books: dict[int, Book], month: date, settings: Settings
) -> Iterator[tuple[int, int | None, str, int]]:
    for book in books.values():
        paid = book.paid.get(month)
        due = book.due(month, settings)
        yield (
            book.branch_id,
            paid.amount_fen if paid is not None else None,
            due.state,
            due.amount_fen,
        )


def _judged_ledger(
    ledger: Ledger, settings: Settings, month: date | None = None
) -> Iterator[tuple[int, int | None, str, int]]:
    """_judged_books for the month whose paid fen the ledger holds (by default its current
    month); Ledger.due, with the common member (one category and base, no relief) worked
    out here."""
    month = ledger.months[-1] if month is None else month
    assessments, reliefs, starts, paid_fen = (
        ledger.assessments,
        ledger.reliefs,
        ledger.starts,
        ledger.paid_fen,
    )
    for member in ledger.members:
        history = assessments.get(member.id)
        if history is not None and len(history) == 1 and member.id not in reliefs:
            start = starts[member.id]
            if start is None or month < start:
                state, fen = "before", 0
            else:
                fen = ledger.fen(history[0], settings)
                state = "due" if fen > 0 else "exempt"
        else:
            state, fen = ledger.due(member, month, settings)
        yield member.branch_id, paid_fen.get(member.id), state, fen


def branch_month_summary(
    month: date,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> list[BranchMonthSummary]:
    """Expected, collected and the rate of every branch (or a committee's) for a month.

    Runs 5 queries whatever the number of branches and members.
    """
    month = month.replace(day=1)
    branch_cond = None
    if committee_id is not None:
        branch_cond = Branch.committee == committee_id
    if branch_id is not None:
        branch_cond = Branch.id == branch_id
    branches = Branch.select(Branch.id, Branch.name).order_by(Branch.id)
    if branch_cond is not None:
        branches = branches.where(branch_cond)
    with gc_paused():
        ledger = load_ledger(branch_cond, month, 0, owing=False, amounts=True)
        return _summaries(list(branches), _judged_ledger(ledger, settings), month)


def month_summary_and_owing(
    now: datetime, settings: Settings
) -> tuple[list[BranchMonthSummary], list[MemberOwing]]:
    """branch_month_summary for this month and all_owing at once, for the monthly reminder:
    members, dues histories and paid months are loaded once (6 queries, not 11)."""
    current = this_month(now, ZoneInfo(settings.app.timezone))
    branches = Branch.select(Branch.id, Branch.name).order_by(Branch.id)
    with gc_paused():
        ledger = load_ledger(None, current, 0, owing=True, amounts=True)
        summaries = _summaries(list(branches), _judged_ledger(ledger, settings), current)
        return summaries, owing_of(ledger, settings)


def month_summary_and_lapse_alerts(
    month: date,
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> tuple[list[BranchMonthSummary], list[LapseAlert]]:
    """branch_month_summary for ``month`` and lapse_alerts at ``at`` at once, for the monthly
    report: the members and their dues histories are loaded once, the month's paid fen with
    the paid months (6 queries, not 10). ``month``: at's month or one of the months the
    six-month rule looks back over (the report's month, judged at its end)."""
    with month_summary_and_lapse_alerts_started(
        month, at, settings, committee_id=committee_id, branch_id=branch_id
    ) as finish:
        return finish()


@contextmanager
def month_summary_and_lapse_alerts_started(
    month: date,
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> Iterator[Callable[[], tuple[list[BranchMonthSummary], list[LapseAlert]]]]:
    """month_summary_and_lapse_alerts in two steps: entering starts its two long aggregates
    on worker threads; the function yielded does the rest here and returns (summaries,
    alerts). Reads the caller does in between overlap with the workers'."""
    month = month.replace(day=1)
    branches = Branch.select(Branch.id, Branch.name).order_by(Branch.id)
    if committee_id is not None:
        branches = branches.where(Branch.committee == committee_id)
    if branch_id is not None:
        branches = branches.where(Branch.id == branch_id)
    with ledger_and_lapse_alerts_started(
        at, settings, committee_id=committee_id, branch_id=branch_id, amounts_of=month
    ) as lapse:

        def finish() -> tuple[list[BranchMonthSummary], list[LapseAlert]]:
            ledger, alerts = lapse()
            if not ledger.months[0] <= month <= ledger.months[-1]:
                raise ValueError(f"{month} is not a month of the ledger at {at}")
            judged = _judged_ledger(ledger, settings, month)
            return _summaries(list(branches), judged, month), alerts

        yield finish


@dataclass(frozen=True)
class Owing:
    name: str
    months: list[tuple[date, int]]

    @property
    def fen(self) -> int:
        return sum(fen for _, fen in self.months)


@dataclass
class BranchDues:
    """The secretary's view of a branch for a month (党费 情况)."""

    branch: Branch
    month: date
    summary: BranchMonthSummary
    owing: list[Owing]  # unpaid for the month: every month each owes, through the month
    unset: list[str]
    pending: list[tuple[str, DuesReport]]
    alerts: list[LapseAlert]
    # Every party member's book (all paid months), by member id: for per-member views.
    books: dict[int, Book] = field(default_factory=dict)


def branch_dues(
    actor: Member | None, branch: Branch, month: date, *, now: datetime, settings: Settings
) -> BranchDues:
    """Return a branch's dues for a month: collected / expected, who owes and for how long."""
    require_collector(actor, branch)
    tz = ZoneInfo(settings.app.timezone)
    month = month.replace(day=1)
    through = max(month, this_month(now, tz))
    members, scope = party_members(Member.branch == branch.id)
    books = load_books(members, scope)
    fill_paid(books, scope)
    summary = _summaries([branch], _judged_books(books, month, settings), month)[0]
    owing, unset = [], []
    for book in books.values():
        due = book.due(month, settings)
        if due.state == "unset":
            unset.append(book.name)
        elif due.state == "due" and month not in book.paid:
            owing.append(Owing(book.name, book.owed(settings, through)))
    owing.sort(key=lambda o: (-len(o.months), o.name))
    reports = (
        DuesReport.select(DuesReport, Member)
        .join(Member)
        .where(Member.branch == branch.id, DuesReport.status == "pending")
        .order_by(DuesReport.reported_at)
    )
    pending = [(r.member.name, r) for r in reports]
    alerts = lapse_alerts(now, settings, branch_id=branch.id)
    return BranchDues(branch, month, summary, owing, unset, pending, alerts, books)
