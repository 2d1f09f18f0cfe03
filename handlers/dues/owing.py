"""Who owes what through the current month, for every branch (the reminder jobs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.dues.bulk import Ledger, gc_paused, load_ledger
from handlers.dues.money import Settings
from handlers.dues.months import this_month
from models.org import PARTY_MEMBER_STATUSES


@dataclass(frozen=True)
class MemberOwing:
    """One member who owes, for the reminder jobs: their months and total."""

    member_id: int
    branch_id: int
    name: str
    months: list[tuple[date, int]]

    @property
    def fen(self) -> int:
        return sum(fen for _, fen in self.months)


def all_owing(now: datetime, settings: Settings) -> list[MemberOwing]:
    """Every party member who owes anything through this month, all branches (5 queries)."""
    current = this_month(now, ZoneInfo(settings.app.timezone))
    with gc_paused():
        return owing_of(load_ledger(None, current, 0, owing=True), settings)


def owing_of(ledger: Ledger, settings: Settings) -> list[MemberOwing]:
    """Book.owed through the ledger's last month for every member, from the paid masks; a
    book only for members with unpaid months and more than one category or a relief."""
    months = ledger.months
    index = {month: k for k, month in enumerate(months)}
    every = (1 << len(months)) - 1
    # The months of an unpaid mask, oldest first: tens of thousands of members owe, most of
    # them the same few runs of months.
    owed_months: dict[int, list[date]] = {}
    paid, starts, fens = ledger.paid.get, ledger.starts, ledger.fens
    assessments, reliefs = ledger.assessments, ledger.reliefs
    out = []
    for member in ledger.members:
        if member.status not in PARTY_MEMBER_STATUSES:
            continue
        k = index.get(starts[member.id])
        if k is None:  # no category yet, or it starts after the current month
            continue
        unpaid = every >> k << k & ~paid(member.id, 0)
        if not unpaid:
            continue
        owed = owed_months.get(unpaid)
        if owed is None:
            owed = owed_months[unpaid] = [
                month for j, month in enumerate(months) if unpaid >> j & 1
            ]
        history = assessments[member.id]
        if len(history) == 1 and member.id not in reliefs:
            # One category and base from the start, no relief: every month asks the same.
            fen = fens.get(history[0].id)
            if fen is None:
                fen = ledger.fen(history[0], settings)
            amounts = [(month, fen) for month in owed] if fen > 0 else []
        else:
            book = ledger.book(member)
            amounts = [
                (month, due.amount_fen)
                for month in owed
                if (due := book.due(month, settings)).state == "due"
            ]
        if amounts:
            out.append(MemberOwing(member.id, member.branch_id, member.name, amounts))
    return out
