"""The console's downloads: the monthly report (月报), a branch's and the committee's, and a
branch's record book (组织生活记录本) of a year as .docx or .pdf.

Each route asks the one handler for this month's report and answers the workbook; who may
download what is the handler's rule (a refusal shows the console's error page).
"""

from __future__ import annotations

from flask import Response, request

from core.clock import local_day, utcnow
from core.text import content_disposition
from handlers.reports import Report, month_report, report_bytes
from handlers.reports.book import record_book
from handlers.reports.book_files import BOOK_FORMATS, book_bytes, book_format
from handlers.reports.links import report_for_link
from web.common import bp, settings, tz, user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _download(report: Report) -> Response:
    fallback = f"report-{report.year}-{report.month:02d}.xlsx"
    response = Response(report_bytes(report), mimetype=XLSX)
    response.headers["Content-Disposition"] = content_disposition(report.filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/branch/<int:branch_id>/report")
def branch_report(branch_id: int) -> Response:
    """This month's report of one branch."""
    now = utcnow()
    today = local_day(now, tz())
    report = month_report(
        user().member, today.year, today.month, branch_id=branch_id, settings=settings(), now=now
    )
    return _download(report)


@bp.get("/committee/report")
def committee_report() -> Response:
    """This month's report of the committee admin's committee, every branch."""
    now = utcnow()
    today = local_day(now, tz())
    me = user()
    report = month_report(
        me.member,
        today.year,
        today.month,
        committee_id=me.branch.committee_id,
        settings=settings(),
        now=now,
    )
    return _download(report)


@bp.get("/reports/<token>")
def report_by_link(token: str) -> Response:
    """A committee's monthly report through the link sent on the 1st (no login: the link is
    signed and expires; the report names no one)."""
    return _download(report_for_link(token, settings=settings(), now=utcnow()))


@bp.get("/branch/<int:branch_id>/book/<int:year>")
def branch_book(branch_id: int, year: int) -> Response:
    """A branch's record book of a year: ?format=docx (default) or pdf."""
    fmt = book_format(request.args.get("format", "docx"))
    book = record_book(user().member, year, branch_id=branch_id, settings=settings(), now=utcnow())
    response = Response(book_bytes(book, fmt, settings()), mimetype=BOOK_FORMATS[fmt])
    response.headers["Content-Disposition"] = content_disposition(
        book.filename(fmt), f"record-book-{year}.{fmt}"
    )
    response.headers["Cache-Control"] = "no-store"
    return response
