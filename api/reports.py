"""/api/v1 routes: the monthly report (月报) as an Excel workbook, a download.

A branch manager downloads their branch's report; a committee admin any branch's of the
committee (``branch_id``) or, with ``scope=committee``, the committee's (a row per branch and
a totals row). The file name is Chinese (第一党支部2026年11月月报.xlsx), sent as RFC 5987's
filename* with an ASCII fallback.
"""

from __future__ import annotations

from flask import Response

from api.common import bp, member, query, settings
from api.openapi import operation
from api.shapes import invalid
from api.shapes import reports as shapes
from api.study import month_asked
from core.clock import utcnow
from core.text import content_disposition
from handlers.reports import month_report, report_bytes

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.get("/reports/month")
@operation(
    "Branch managers and committee admins: the monthly report as .xlsx",
    {200: (None, "The workbook (Content-Disposition: attachment, filename* in UTF-8)")},
    errors=("400", "401", "403"),
    query=shapes.MonthReportQuery,
    download=XLSX,
    description="Sheets: 汇总, 学习 (per week and the month), 会议要求, 会议记录, 党费 and, "
    "in a branch's report only, 人员提醒 (names). A month after the current one answers 400.",
)
def month_report_download() -> Response:
    """The month's report of a branch, or of the committee."""
    args = query(shapes.MonthReportQuery)
    year, month = month_asked(args.get("month"))
    me = member()
    committee_id = None
    if args.get("scope") == "committee":
        if args.get("branch_id") is not None:
            raise invalid("branch_id", "不能与 scope=committee 同时使用。")
        committee_id = me.branch.committee_id
    report = month_report(
        me,
        year,
        month,
        branch_id=args.get("branch_id"),
        committee_id=committee_id,
        settings=settings(),
        now=utcnow(),
    )
    fallback = f"report-{year}-{month:02d}.xlsx"
    response = Response(report_bytes(report), mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(report.filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    return response
