"""/api/v1 routes: the monthly report (月报) as an Excel workbook, and a branch's record book
(组织生活记录本) of a year as .docx or .pdf: downloads.

A branch manager downloads their branch's report; a committee admin any branch's of the
committee (``branch_id``) or, with ``scope=committee``, the committee's (a row per branch and
a totals row). The file name is Chinese (第一党支部2026年11月月报.xlsx), sent as RFC 5987's
filename* with an ASCII fallback.
"""

from __future__ import annotations

from flask import Response

from api.common import bp, member, query, settings, tz
from api.openapi import operation
from api.shapes import invalid
from api.shapes import reports as shapes
from api.study import month_asked
from core.clock import local_day, utcnow
from core.text import content_disposition
from handlers.reports import month_report, report_bytes
from handlers.reports.book import record_book
from handlers.reports.book_files import BOOK_FORMATS, book_bytes

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


@bp.get("/reports/book")
@operation(
    "Branch managers and committee admins: a branch's record book (组织生活记录本) of a year",
    {200: (None, "The .docx or .pdf (Content-Disposition: attachment, filename* in UTF-8)")},
    errors=("400", "401", "403"),
    query=shapes.RecordBookQuery,
    download=tuple(BOOK_FORMATS.values()),
    description="The front page: required meetings against held ones per period, and the "
    "meetings still without minutes; then one section per meeting (kind, time, place, host, "
    "recorder, 应到/实到 with names present, on leave with reasons and absent, theme, minutes, "
    "decisions). format=pdf answers application/pdf. A year after the current one answers 400.",
)
def record_book_download() -> Response:
    """A branch's record book of a year (default this year, the manager's own branch)."""
    args = query(shapes.RecordBookQuery)
    now = utcnow()
    year = args.get("year") or local_day(now, tz()).year
    book = record_book(
        member(), year, branch_id=args.get("branch_id"), settings=settings(), now=now
    )
    fmt = args.get("format") or "docx"
    response = Response(book_bytes(book, fmt, settings()), mimetype=BOOK_FORMATS[fmt])
    response.headers["Content-Disposition"] = content_disposition(
        book.filename(fmt), f"record-book-{year}.{fmt}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
