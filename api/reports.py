"""/api/v1 routes: report downloads. The monthly report (月报) and the dues ledger (党费收缴明细)
as Excel workbooks, the roster (名册) as .xlsx or .csv, a branch's record book (组织生活记录本)
of a year as .docx or .pdf.

A branch manager downloads their branch's files; a committee admin any branch's of the
committee (``branch_id``) or, with ``scope=committee``, the committee's. Who may see what is
the handlers' rule (handlers.reports.month.report_scope). The file name is Chinese
(第一党支部2026年11月月报.xlsx), sent as RFC 5987's filename* with an ASCII fallback, and no
answer is stored by a cache.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from api.common import bp, member, query, settings, tz
from api.openapi import operation
from api.shapes import invalid
from api.shapes import reports as shapes
from api.study import month_asked
from core.clock import local_day, utcnow
from core.datetext import DateTextError, parse_period
from core.text import content_disposition
from handlers.reports import month_report, report_bytes
from handlers.reports.book import record_book
from handlers.reports.book_files import BOOK_FORMATS, book_bytes
from handlers.reports.ledger import ledger, ledger_bytes
from handlers.reports.roster import roster_bytes, roster_rows

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv"
MEDIA = {"xlsx": XLSX, "csv": CSV}
SCOPE_TEXT = (
    "A branch manager gets their branch's; a committee admin any branch's of the committee "
    "(branch_id) or, with scope=committee, the committee's."
)


def _download(data: bytes, media: str, filename: str, fallback: str) -> Response:
    response = Response(data, mimetype=media)
    response.headers["Content-Disposition"] = content_disposition(filename, fallback)
    response.headers["Cache-Control"] = "no-store"
    return response


def _committee_asked(args: dict[str, Any]) -> int | None:
    """The caller's committee with scope=committee (then without branch_id), else None."""
    if args.get("scope") != "committee":
        return None
    if args.get("branch_id") is not None:
        raise invalid("branch_id", "不能与 scope=committee 同时使用。")
    return member().branch.committee_id


def _period_asked(text: str | None) -> tuple[int, int | None]:
    """The month or the whole year asked for (2026-11, 2026), default the current month."""
    try:
        year, month = parse_period(text or "本月", now=utcnow(), tz=tz())
    except DateTextError as exc:
        raise invalid("period", exc.message) from None
    api = settings().api
    if not api.earliest_year <= year <= api.latest_year:
        raise invalid("period", f"的年份应在 {api.earliest_year} 到 {api.latest_year} 之间。")
    return year, month


@bp.get("/reports/month")
@operation(
    "Branch managers and committee admins: the monthly report as .xlsx",
    {200: (None, "The workbook (Content-Disposition: attachment, filename* in UTF-8)")},
    errors=("400", "401", "403"),
    query=shapes.MonthReportQuery,
    download=XLSX,
    description="Sheets: 汇总, 学习 (per week and the month), 会议要求, 会议记录, 党费, 志愿服务, "
    "学时 and, in a branch's report only, 人员提醒 (names); a committee's report of a complete "
    "month also has 星级评定. A month after the current one answers 400.",
)
def month_report_download() -> Response:
    """The month's report of a branch, or of the committee."""
    args = query(shapes.MonthReportQuery)
    year, month = month_asked(args.get("month"))
    me = member()
    report = month_report(
        me,
        year,
        month,
        branch_id=args.get("branch_id"),
        committee_id=_committee_asked(args),
        settings=settings(),
        now=utcnow(),
    )
    fallback = f"report-{year}-{month:02d}.xlsx"
    return _download(report_bytes(report), XLSX, report.filename, fallback)


@bp.get("/reports/roster")
@operation(
    "Branch managers and committee admins: the roster as .xlsx or .csv",
    {200: (None, "The file (Content-Disposition: attachment, filename* in UTF-8)")},
    errors=("400", "401", "403"),
    query=shapes.RosterQuery,
    download=(XLSX, CSV),
    description="One row per member in the columns the roster import reads (姓名, 手机号, 支部, "
    "党小组, 党员状态, 职务, 入党日期, 转正日期, 党费类别, 工资基数, 基数起始月, 出生日期, "
    "申请入党日期, 确定积极分子日期, 确定发展对象日期). Phones are masked (138****5678) unless "
    "full_phones=true, which gives a file that imports back unchanged; every download is noted "
    "in the read log (查阅记录). " + SCOPE_TEXT,
)
def roster_download() -> Response:
    """The roster of a branch, or of the committee."""
    args = query(shapes.RosterQuery)
    fmt = args.get("format") or "xlsx"
    export = roster_rows(
        member(),
        branch_id=args.get("branch_id"),
        committee_id=_committee_asked(args),
        settings=settings(),
        now=utcnow(),
        full_phones=bool(args.get("full_phones")),
    )
    data = roster_bytes(export, fmt)
    return _download(data, MEDIA[fmt], export.filename(fmt), export.ascii_filename(fmt))


@bp.get("/reports/ledger")
@operation(
    "Branch managers and committee admins: the dues ledger of a month or a year as .xlsx",
    {200: (None, "The workbook (Content-Disposition: attachment, filename* in UTF-8)")},
    errors=("400", "401", "403"),
    query=shapes.LedgerQuery,
    download=XLSX,
    description="党费收缴明细: one row per entry recorded in the period (reversals as their own "
    "negative rows after what they reverse) and totals by kind. A period after the current "
    "one answers 400. " + SCOPE_TEXT,
)
def ledger_download() -> Response:
    """The dues ledger of a branch, or of the committee, for a month or a year."""
    args = query(shapes.LedgerQuery)
    year, month = _period_asked(args.get("period"))
    report = ledger(
        member(),
        year,
        month,
        branch_id=args.get("branch_id"),
        committee_id=_committee_asked(args),
        settings=settings(),
        now=utcnow(),
    )
    return _download(ledger_bytes(report), XLSX, report.filename, report.ascii_filename)


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
    data = book_bytes(book, fmt, settings())
    return _download(data, BOOK_FORMATS[fmt], book.filename(fmt), book.ascii_filename(fmt))
