"""A member's dues book: what each month asks, paid or not, judged without queries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from peewee import Expression

from handlers.dues.money import Settings, monthly_amount
from handlers.dues.months import month_span
from models.dues import (
    DuesMonth,
    DuesPayment,
)
from models.org import PARTY_MEMBER_STATUSES


@dataclass(frozen=True)
class Due:
    """What a month asks of a member: state due | exempt | before | unset | none, and the fen."""

    state: str
    amount_fen: int = 0
    assessment: Any = None
    relief: Any = None


@dataclass
class Book:
    """Everything needed to judge a member's months, loaded in bulk (no queries here)."""

    member_id: int
    name: str
    status: str
    branch_id: int
    joined_on: date | None
    assessments: list[Any] = field(default_factory=list)  # by (from_month, id)
    reliefs: list[Any] = field(default_factory=list)  # by id
    paid: dict[date, Any] = field(default_factory=dict)  # month → live DuesMonth row

    @property
    def start(self) -> date | None:
        """The first month the member owes dues in, or None without an assessment."""
        return _start_month(self.assessments, self.joined_on)

    def assessment_at(self, month: date) -> Any:
        return assessment_in_effect(self.assessments, month)

    def relief_at(self, month: date) -> Any:
        found = None
        for row in self.reliefs:
            if row.from_month <= month <= row.until_month:
                found = row
        return None if found is None or found.kind == "cancel" else found

    def due(self, month: date, settings: Settings) -> Due:
        """Return what the month asks (paid or not)."""
        if self.status not in PARTY_MEMBER_STATUSES:
            return Due("none")
        start = self.start
        if start is None:
            return Due("unset")
        if month < start:
            return Due("before")
        assessment = self.assessment_at(month)
        full = monthly_amount(
            assessment.category, assessment.base_fen, assessment.fixed_fen, settings
        )
        relief = self.relief_at(month)
        amount = full
        if relief is not None:
            amount = 0 if relief.kind == "exempt" else min(full, relief.amount_fen)
        return Due("due" if amount > 0 else "exempt", amount, assessment, relief)

    def state(self, month: date, settings: Settings, current: date) -> str:
        """paid | owed | exempt | ahead (due later) | before | unset | none."""
        if month in self.paid:
            return "paid"
        due = self.due(month, settings)
        if due.state != "due":
            return due.state
        return "owed" if month <= current else "ahead"

    def owed(self, settings: Settings, through: date) -> list[tuple[date, int]]:
        """Unpaid due months from the start month through `through`, with their amounts."""
        start = self.start
        if start is None or self.status not in PARTY_MEMBER_STATUSES:
            return []
        out = []
        for month in month_span(start, through):
            if month in self.paid:
                continue
            due = self.due(month, settings)
            if due.state == "due":
                out.append((month, due.amount_fen))
        return out


def _start_month(assessments: Sequence[Any], joined_on: date | None) -> date | None:
    """Book.start from a member's assessments (by from_month) and joined_on."""
    if not assessments:
        return None
    first = assessments[0].from_month
    if joined_on is not None:
        first = max(first, joined_on.replace(day=1))
    return first


def assessment_in_effect(history: Sequence[Any], month: date) -> Any:
    """Return the row in effect for a month of a history ordered by (from_month, id), or None."""
    found = None
    for row in history:
        if row.from_month > month:
            break
        found = row
    return found


def reversed_ids() -> Any:
    return DuesPayment.select(DuesPayment.reverses).where(DuesPayment.reverses.is_null(False))


def live_payments() -> Expression:
    """The condition "this DuesMonth's payment has not been reversed"."""
    return DuesMonth.payment.not_in(reversed_ids())
