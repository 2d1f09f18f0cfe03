"""Shapes of the report downloads (api/reports.py): the monthly report, the roster, the dues
ledger and the record book."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Bool, Id, Int, OneLine, Request
from api.shapes.branch import BRANCH_ID
from api.shapes.study import MONTH_TEXT_MAX

Scope = Literal["branch", "committee"]


def _scope(what: str) -> str:
    return (
        f"committee: the committee admin's {what} of every branch of the committee "
        "(branch_id is then left out); default branch"
    )


class MonthReportQuery(Request):
    month: OneLine(MONTH_TEXT_MAX, required=False) | None = Constraint(
        default=None,
        description="YYYY-MM (2026年11月, 本月 and 上月 are read too); default the current month",
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    scope: Scope | None = Constraint(default=None, description=_scope("report"))


class RosterQuery(Request):
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    scope: Scope | None = Constraint(default=None, description=_scope("roster"))
    format: Literal["xlsx", "csv"] | None = Constraint(
        default=None, description="xlsx (default) or csv (UTF-8 with a BOM, for Excel)"
    )
    full_phones: Bool | None = Constraint(
        default=None,
        description="true: the phone numbers in full, to edit and import back (noted in the "
        "read log); default false: masked, 138****5678",
    )


class LedgerQuery(Request):
    period: OneLine(MONTH_TEXT_MAX, required=False) | None = Constraint(
        default=None,
        description="A month, YYYY-MM (2026年11月, 本月 and 上月 are read too), or a whole year, "
        "YYYY (2026年, 今年); default the current month",
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    scope: Scope | None = Constraint(default=None, description=_scope("ledger"))


class RecordBookQuery(Request):
    year: Int(2000, 2999) | None = Constraint(
        default=None, description="the year, e.g. 2026; default this year"
    )
    format: Literal["docx", "pdf"] = Constraint(
        default="docx", description="docx (Word) or pdf (printable, Chinese font embedded)"
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
