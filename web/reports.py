"""The console's downloads: the monthly report (月报), the roster (名册) and the dues ledger
(党费收缴明细) of a branch or of the committee, and a branch's record book (组织生活记录本) of a
year as .docx or .pdf.

Each route asks one handler for this month's (or this year's) file and answers it; who may
download what is the handler's rule (a refusal shows the console's error page).
"""

from __future__ import annotations

from flask import Response, request

from core.clock import local_day, utcnow
from core.text import content_disposition
from handlers.reports import Report, month_report, report_bytes
from handlers.reports.book import record_book
from handlers.reports.book_files import BOOK_FORMATS, book_bytes, book_format
from handlers.reports.ledger import Ledger, ledger, ledger_bytes
from handlers.reports.links import report_for_link
from handlers.reports.roster import RosterExport, roster_bytes, roster_rows
from web.common import bp, settings, tz, user

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The ledger's span in its routes: this month's entries, or this year's.
SPANS = "any(month, year)"


def _download(data: bytes, filename: str, fallback: str, media: str = XLSX) -> Response:
    response = Response(data, mimetype=media)
    response.headers["Content-Disposition"] = content_disposition(filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    return response


def _report(report: Report) -> Response:
    fallback = f"report-{report.year}-{report.month:02d}.xlsx"
    return _download(report_bytes(report), report.filename, fallback)


def _roster(export: RosterExport) -> Response:
    return _download(roster_bytes(export), export.filename("xlsx"), export.ascii_filename("xlsx"))


def _ledger(report: Ledger) -> Response:
    return _download(ledger_bytes(report), report.filename, report.ascii_filename)


@bp.get("/branch/<int:branch_id>/report")
def branch_report(branch_id: int) -> Response:
    """This month's report of one branch."""
    now = utcnow()
    today = local_day(now, tz())
    report = month_report(
        user().member, today.year, today.month, branch_id=branch_id, settings=settings(), now=now
    )
    return _report(report)


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
    return _report(report)


def _full_phones() -> bool:
    """?full_phones=1: the roster with the full phone numbers (to edit and import back)."""
    return request.args.get("full_phones") in ("1", "true")


@bp.get("/branch/<int:branch_id>/roster/export")
def branch_roster(branch_id: int) -> Response:
    """One branch's roster (.xlsx), in the columns the roster import reads back; phones
    masked unless ?full_phones=1."""
    export = roster_rows(
        user().member,
        branch_id=branch_id,
        settings=settings(),
        now=utcnow(),
        full_phones=_full_phones(),
    )
    return _roster(export)


@bp.get("/committee/roster/export")
def committee_roster() -> Response:
    """The roster of every branch of the committee admin's committee (.xlsx); phones masked
    unless ?full_phones=1."""
    me = user()
    export = roster_rows(
        me.member,
        committee_id=me.branch.committee_id,
        settings=settings(),
        now=utcnow(),
        full_phones=_full_phones(),
    )
    return _roster(export)


@bp.get(f"/branch/<int:branch_id>/ledger/<{SPANS}:span>")
def branch_ledger(branch_id: int, span: str) -> Response:
    """One branch's dues ledger of this month or of this year."""
    now = utcnow()
    today = local_day(now, tz())
    month = today.month if span == "month" else None
    report = ledger(
        user().member, today.year, month, branch_id=branch_id, settings=settings(), now=now
    )
    return _ledger(report)


@bp.get(f"/committee/ledger/<{SPANS}:span>")
def committee_ledger(span: str) -> Response:
    """The committee's dues ledger (every branch) of this month or of this year."""
    now = utcnow()
    today = local_day(now, tz())
    me = user()
    report = ledger(
        me.member,
        today.year,
        today.month if span == "month" else None,
        committee_id=me.branch.committee_id,
        settings=settings(),
        now=now,
    )
    return _ledger(report)


@bp.get("/reports/<token>")
def report_by_link(token: str) -> Response:
    """A committee's monthly report through the link sent on the 1st (no login: the link is
    signed and expires; the report names no one)."""
    return _report(report_for_link(token, settings=settings(), now=utcnow()))


@bp.get("/branch/<int:branch_id>/book/<int:year>")
def branch_book(branch_id: int, year: int) -> Response:
    """A branch's record book of a year: ?format=docx (default) or pdf."""
    fmt = book_format(request.args.get("format", "docx"))
    book = record_book(user().member, year, branch_id=branch_id, settings=settings(), now=utcnow())
    data = book_bytes(book, fmt, settings())
    return _download(data, book.filename(fmt), book.ascii_filename(fmt), BOOK_FORMATS[fmt])
