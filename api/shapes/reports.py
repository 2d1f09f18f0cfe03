"""Shapes of the report downloads (api/reports.py): the monthly report and the record book."""

from __future__ import annotations

from typing import Literal

from pydantic import Field as Constraint

from api.shapes import Id, Int, OneLine, Request
from api.shapes.branch import BRANCH_ID
from api.shapes.study import MONTH_TEXT_MAX


class MonthReportQuery(Request):
    month: OneLine(MONTH_TEXT_MAX, required=False) | None = Constraint(
        default=None,
        description="YYYY-MM (2026年11月, 本月 and 上月 are read too); default the current month",
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
    scope: Literal["branch", "committee"] | None = Constraint(
        default=None,
        description="committee: the committee admin's report of every branch of the "
        "committee (branch_id is then left out); default branch",
    )


class RecordBookQuery(Request):
    year: Int(2000, 2999) | None = Constraint(
        default=None, description="the year, e.g. 2026; default this year"
    )
    format: Literal["docx", "pdf"] = Constraint(
        default="docx", description="docx (Word) or pdf (printable, Chinese font embedded)"
    )
    branch_id: Id | None = Constraint(default=None, description=BRANCH_ID)
