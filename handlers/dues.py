"""Dues (党费): amounts by the 2008 table, the ledger, the views, and the six-month rule.

Rules (DOMAIN.md; where it and the issue are silent, decided here):

- Money is integer fen. A monthly amount is the whole base at its bracket's rate
  (``[dues] in_service_rates`` / ``retired_rates``), computed with Decimal and rounded half-up
  to the fen. Farmers pay the amount the branch set for them (``farmer_min_fen`` to
  ``farmer_max_fen``); students, the unemployed and members on relief or 低保 pay
  ``student_fen``; the ``exempt`` category pays nothing.
- A member's category and base are a history (DuesAssessment): for a month, the row with the
  latest ``from_month`` not after it applies, and among rows of the same month the newest.
  A base that would give 0 fen a month is refused (use the 0.2-yuan category instead).
- Hardship relief (DuesRelief) covers ``from_month``..``until_month``; for a month the newest row
  covering it decides: ``reduce`` (pay the reduced amount, never more than the table's),
  ``exempt`` (nothing due) or ``cancel`` (no relief). Reduce and exempt name who approved them.
- Who owes: members whose status is 预备 or 正式 (models.org.PARTY_MEMBER_STATUSES). A member owes
  from their **start month**: the first month of their first assessment (the month the branch
  began keeping their dues here), but not before the month of ``Member.joined_on``. For a
  预备党员, joined_on (入党日期) is by the party's own definition the day the branch general
  meeting accepted them, so they owe from that month. No assessment means no amount is known:
  the member is listed as "未设置" and never counted as owing.
- A month is **paid** when a live (not reversed) DuesMonth row covers it, **exempt** when nothing
  is due, **owed** when something is due, it is not after the current month and it is unpaid.
  Months after the current one may be paid in advance up to ``prepay_max_months``; earlier
  months (back to the start month) may always be paid. A month paid at the old amount stays
  paid when the base later changes retroactively.
- A payment states its months, or takes the oldest unpaid months (then months ahead) whose
  amounts add up to exactly the sum paid; the sum must equal the months' dues to the fen.
  Anything more is a separate voluntary payment (自愿交纳, no months; at or above
  ``voluntary_whole_fen`` it goes upward whole and says so).
- The ledger is append-only: a mistake is corrected by a reversal entry (更正党费 编号) that
  frees the months, then a new payment. (member, month, seq) is unique in DuesMonth, where seq
  is the number of earlier, reversed, payments of that month: of two collectors recording the
  same month at once one wins, the other is shown the winning entry.
- A member's own report (交党费) is checked like a payment and waits, one at a time, until a
  collector confirms it (it becomes a payment) or sends it back.
- Collected for a month means dues paid *for* that month, whenever they were paid, counted in
  the member's current branch.

The six-month rule (党章 第九条), per member, counted back from the last complete month:

- Dues: consecutive owed months. A paid, exempt (an approved reason) or not-yet-owing month
  ends the run.
- Meetings: consecutive months with at least one meeting the member was expected at, held
  (scheduled, ended) and attended by none of them. A month with approved leave for any of its
  meetings ends the run (an approved reason); a month in which the member was expected at no
  meeting is skipped (the member could not attend), neither counting nor ending the run.
- The current month is not over, so it never adds to a run; but paying for it or attending a
  meeting in it ends the run (count 0).
- Runs are looked for ``lookback_months`` back; a run reaching that far is reported "at least".
- lapse_alerts returns every member at ``alert_first_months`` (3) or more, with the level
  reached (3, 5 or 6+), per reason; a member can appear once for each reason.

All-branch functions (branch_month_summary, lapse_alerts) run a fixed number of queries
whatever the number of branches and members.
"""

from __future__ import annotations

import difflib
import gc
import logging
import os
import re
import sqlite3
import unicodedata
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from peewee import JOIN, SQL, Case, Expression, IntegrityError, Select, fn

from core.clock import UTC, local_day
from core.config import parse_rates
from core.datetext import DateTextError, parse_month, parse_month_range
from handlers.errors import DomainError
from handlers.sheets import (
    RowError,
    cell_text,
    chunks,
    header_key,
    normalize_phone,
    phone_problem,
    row_error,
    table_rows,
)
from models.base import db, is_sqlite, write_tx
from models.dues import (
    BASED_CATEGORIES,
    CATEGORIES,
    PAYMENT_SOURCES,
    REPORT_STATUSES,
    DuesAssessment,
    DuesMonth,
    DuesPayment,
    DuesRelief,
    DuesReport,
)
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import PARTY_MEMBER_STATUSES, Branch, Committee, Member, acts_for

log = logging.getLogger(__name__)

Settings = dict[str, dict[str, Any]]

# Who records payments, bases and relief for a branch (a committee admin for its branches).
DUES_ROLES = ("secretary", "dues_collector")
# More integer digits than this in an amount is a typo, whatever the configured maximum.
MAX_DIGITS = 10

PAY_EXAMPLE = "收党费 张三 300.00 2026年1-3月"
SET_EXAMPLE = "党费 设置 张三 在职 8000.00 2026年1月"


class MoneyError(DomainError):
    """An amount that is not a valid sum of money in yuan with at most two decimals."""

    errcode = "invalid_amount"


# ---- money ----------------------------------------------------------------------------------

_AMOUNT = re.compile(r"(\d+)(?:\.(\d*))?")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d*)?")


def yuan_to_fen(text: str, *, max_fen: int | None = None, what: str = "金额") -> int:
    """Parse "300", "300.5", "¥1,000.00" or "25.50元" into integer fen; refuse anything else.

    More than two decimals, negative numbers, words and amounts above max_fen are refused with
    a Chinese message naming the problem. Zero is accepted; callers refuse it where it is wrong.
    """
    raw = str(text).strip()
    s = unicodedata.normalize("NFKC", raw).replace(" ", "")
    s = s.removeprefix("RMB").removeprefix("¥").removesuffix("元")
    if s[:1] in ("-", "−") or s[1:2] in ("-", "−"):
        raise MoneyError(f"{what}“{raw}”是负数。请填写正数，例如：300.00")
    s = s.removeprefix("+").removeprefix("¥")
    if _GROUPED.fullmatch(s):
        s = s.replace(",", "")
    match = _AMOUNT.fullmatch(s)
    if match is None:
        raise MoneyError(
            f"没看懂{what}“{raw}”。请用阿拉伯数字填写，单位为元，最多两位小数，例如：300.00"
        )
    whole, frac = match.group(1), match.group(2) or ""
    if len(frac) > 2:
        raise MoneyError(f"{what}“{raw}”有 {len(frac)} 位小数：金额只能精确到分，例如：25.50")
    if len(whole.lstrip("0")) > MAX_DIGITS:
        raise MoneyError(f"{what}“{raw}”大得不合常理，请核对是否多写了数字。")
    fen = int(whole) * 100 + int(frac.ljust(2, "0"))
    if max_fen is not None and fen > max_fen:
        raise MoneyError(f"{what}“{raw}”超过上限 {fen_to_text(max_fen)}，请核对是否多写了数字。")
    return fen


def fen_to_text(fen: int) -> str:
    """Render integer fen as yuan: 30000 → "300.00元", -150 → "-1.50元"."""
    if not isinstance(fen, int) or isinstance(fen, bool):
        raise TypeError(f"money must be integer fen, got {type(fen).__name__}")
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}元"


def yuan(fen: int) -> str:
    """Render fen as the number a person types: 30000 → "300.00"."""
    return fen_to_text(fen).removesuffix("元")


def bracket_amount(base_fen: int, brackets: Sequence[tuple[int | None, Decimal]]) -> int:
    """Return the whole base at its bracket's rate, rounded half-up to the fen."""
    for limit, rate in brackets:
        if limit is None or base_fen <= limit:
            return int((Decimal(base_fen) * rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    raise ValueError("rate table has no open-ended last bracket")


@lru_cache(maxsize=16)
def _brackets(table: str) -> tuple[tuple[int | None, Decimal], ...]:
    """Parse a rate table once (the all-branch functions price many member-months)."""
    return tuple(parse_rates(table))


@lru_cache(maxsize=16)
def _ratios(table: str) -> tuple[tuple[int | None, int, int], ...]:
    """The rate table with each rate as an exact fraction p / q."""
    return tuple((limit, *rate.as_integer_ratio()) for limit, rate in _brackets(table))


def _bracket_fen(base_fen: int, table: str) -> int:
    """bracket_amount in integers (the all-branch views price tens of thousands of bases):
    base x p / q rounded half up is floor((2 base p + q) / 2q) for a base >= 0, the same as the
    Decimal product, which is exact for bases this size."""
    if not 0 <= base_fen < 10**15:
        return bracket_amount(base_fen, _brackets(table))
    for limit, p, q in _ratios(table):
        if limit is None or base_fen <= limit:
            return (2 * base_fen * p + q) // (2 * q)
    raise ValueError("rate table has no open-ended last bracket")


def monthly_amount(
    category: str, base_fen: int | None, fixed_fen: int | None, settings: Settings
) -> int:
    """Return the table's monthly dues in fen for a category and base (DOMAIN.md)."""
    cfg = settings["dues"]
    return _amount(
        category,
        base_fen,
        fixed_fen,
        cfg["in_service_rates"],
        cfg["retired_rates"],
        cfg["student_fen"],
    )


def _amount_of(
    category: str,
    base_fen: int | None,
    fixed_fen: int | None,
    in_service_rates: str,
    retired_rates: str,
    student_fen: int,
) -> int:
    """monthly_amount with the settings it reads as arguments, so that it can be cached
    (_amount)."""
    if category == "in_service":
        return _bracket_fen(_base(base_fen), in_service_rates)
    if category == "retired":
        return _bracket_fen(_base(base_fen), retired_rates)
    if category == "farmer":
        if fixed_fen is None:
            raise ValueError("farmer without the amount the branch set")
        return fixed_fen
    if category == "student":
        return int(student_fen)
    if category == "exempt":
        return 0
    raise ValueError(f"unknown dues category {category!r}")


# monthly_amount's cache; the all-branch views price each member's base once without it
# (_Ledger.fen): 100,000 members' bases would only churn it.
_amount = lru_cache(maxsize=4096)(_amount_of)


def _base(base_fen: int | None) -> int:
    if base_fen is None:
        raise ValueError("a based category without a base")
    return base_fen


# ---- months ---------------------------------------------------------------------------------


def add_months(month: date, n: int) -> date:
    """Return the first day of the month n months after `month`."""
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_span(first: date, last: date) -> list[date]:
    """Return the months from first to last, inclusive."""
    count = (last.year - first.year) * 12 + last.month - first.month + 1
    return [add_months(first, i) for i in range(max(count, 0))]


def this_month(now: datetime, tz: ZoneInfo) -> date:
    """Return the current month (its first day) in the branch time zone."""
    return local_day(now, tz).replace(day=1)


def month_label(month: date) -> str:
    return f"{month.year}年{month.month}月"


def months_text(months: Iterable[date]) -> str:
    """Render months compactly: 2026年1-3月、2026年5月、2025年11月-2026年2月."""
    ordered = sorted(set(months))
    runs: list[tuple[date, date]] = []
    for month in ordered:
        if runs and add_months(runs[-1][1], 1) == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    parts = []
    for first, last in runs:
        if first == last:
            parts.append(month_label(first))
        elif first.year == last.year:
            parts.append(f"{first.year}年{first.month}-{last.month}月")
        else:
            parts.append(f"{month_label(first)}-{month_label(last)}")
    return "、".join(parts) or "无"


def parse_months(text: str, *, now: datetime, tz: ZoneInfo) -> list[date]:
    """Parse "2026年1-3月", "1月", "本月" … into months; refuse with the parser's message."""
    try:
        return [date(y, m, 1) for y, m in parse_month_range(text, now=now, tz=tz)]
    except DateTextError as exc:
        raise DomainError(exc.message) from None


def parse_one_month(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    try:
        year, month = parse_month(text, now=now, tz=tz)
    except DateTextError as exc:
        raise DomainError(exc.message) from None
    return date(year, month, 1)


def amounts_text(plan: list[tuple[date, int]]) -> str:
    """Render per-month amounts grouped by equal amount: 2026年1-2月 每月 30.00元，2026年3月 …"""
    groups: list[tuple[list[date], int]] = []
    for month, fen in plan:
        if groups and groups[-1][1] == fen and add_months(groups[-1][0][-1], 1) == month:
            groups[-1][0].append(month)
        else:
            groups.append(([month], fen))
    return "，".join(
        f"{months_text(ms)} {'每月 ' if len(ms) > 1 else ''}{fen_to_text(fen)}"
        for ms, fen in groups
    )


# ---- a member's dues book -------------------------------------------------------------------


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
        return _assessment_at(self.assessments, month)

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


def _assessment_at(history: Sequence[Any], month: date) -> Any:
    """Return the row in effect for a month of a history ordered by (from_month, id), or None."""
    found = None
    for row in history:
        if row.from_month > month:
            break
        found = row
    return found


def _reversed_ids() -> Any:
    return DuesPayment.select(DuesPayment.reverses).where(DuesPayment.reverses.is_null(False))


def _live_payments() -> Expression:
    """The condition "this DuesMonth's payment has not been reversed"."""
    return DuesMonth.payment.not_in(_reversed_ids())


# Rows of the bulk loaders, with the attributes peewee's namedtuples() gave them, built from the
# driver's plain rows: for 100,000 members peewee's per-row conversion took seconds.
_MemberRow = namedtuple("_MemberRow", "id name status branch_id joined_on branch_name")
_AssessmentRow = namedtuple(
    "_AssessmentRow", "id member_id from_month category base_fen fixed_fen approved_by"
)
_ReliefRow = namedtuple(
    "_ReliefRow", "id member_id kind amount_fen from_month until_month approved_by reason"
)
_PaidRow = namedtuple("_PaidRow", "member_id month amount_fen payment_id")
# Months per bit-mask column: SQL integers are 64-bit.
_MASK_BITS = 60
# WITH … AS MATERIALIZED: PostgreSQL 12+, SQLite 3.35+ (older SQLite: a plain CTE).
_MATERIALIZED_CTE = sqlite3.sqlite_version_info >= (3, 35, 0)


class _Days(dict[Any, Any]):
    """Date columns as the driver returns them (text in SQLite) → date, each value parsed once."""

    def __missing__(self, value: Any) -> date | None:
        day = DuesMonth.month.python_value(value)
        self[value] = day
        return day


def _plain(query: Any) -> Any:
    """Run a query and return the driver's cursor: plain tuples, no peewee row objects."""
    return db.execute(query)


def _packed(query: Any, width: int) -> list[int]:
    """Run a query of `width` integer columns named c0, c1 … (NULL counts as 0) and return
    every row's values in one flat list, from a single string the database aggregates.

    The long aggregates run on side_reads' worker threads. Python's sqlite3 releases the GIL
    for each sqlite3_step, one per result row, and takes it back to build the row: 90,000
    rows meant 90,000 hand-offs with the busy main thread, and the read took longer than
    alone. Aggregated into one string, the statement is one step without the GIL.
    """
    packed = query.alias("packed")
    line = None
    for i in range(width):
        value = fn.COALESCE(packed.c[f"c{i}"], 0).cast("TEXT")
        line = value if line is None else line.concat(" ").concat(value)
    every = fn.GROUP_CONCAT(line, " ") if is_sqlite() else fn.string_agg(line, " ")
    text = Select((packed,), (every,)).bind(db).scalar()
    return list(map(int, text.split())) if text else []


def _histories(scope: Any) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    """Assessments (by from_month, id) and reliefs (by id) of the members in `scope` (None:
    everyone's), per member; 2 queries."""
    days = _Days()
    assessments: dict[int, list[Any]] = {}
    query = (
        DuesAssessment.select(
            DuesAssessment.id,
            DuesAssessment.member.alias("member_id"),
            DuesAssessment.from_month,
            DuesAssessment.category,
            DuesAssessment.base_fen,
            DuesAssessment.fixed_fen,
            DuesAssessment.approved_by,
        )
        # Member first: the (member, from_month) index gives this order without a sort.
        .order_by(DuesAssessment.member, DuesAssessment.from_month, DuesAssessment.id)
    )
    if scope is not None:
        query = query.where(DuesAssessment.member.in_(scope))
    for id_, member_id, from_month, category, base_fen, fixed_fen, approved_by in _plain(query):
        row = _AssessmentRow(
            id_, member_id, days[from_month], category, base_fen, fixed_fen, approved_by
        )
        found = assessments.get(member_id)
        if found is None:
            assessments[member_id] = [row]
        else:
            found.append(row)
    reliefs: dict[int, list[Any]] = {}
    query = DuesRelief.select(
        DuesRelief.id,
        DuesRelief.member.alias("member_id"),
        DuesRelief.kind,
        DuesRelief.amount_fen,
        DuesRelief.from_month,
        DuesRelief.until_month,
        DuesRelief.approved_by,
        DuesRelief.reason,
    ).order_by(DuesRelief.id)
    if scope is not None:
        query = query.where(DuesRelief.member.in_(scope))
    for id_, member_id, kind, amount_fen, first, last, approved_by, reason in _plain(query):
        reliefs.setdefault(member_id, []).append(
            _ReliefRow(
                id_, member_id, kind, amount_fen, days[first], days[last], approved_by, reason
            )
        )
    return assessments, reliefs


def _book(member: Any, assessments: dict[int, list[Any]], reliefs: dict[int, list[Any]]) -> Book:
    return Book(
        member.id,
        member.name,
        member.status,
        member.branch_id,
        member.joined_on,
        assessments.get(member.id) or [],
        reliefs.get(member.id) or [],
    )


def _books(members: Iterable[Any], scope: Any) -> dict[int, Book]:
    """Build books (assessments and reliefs, no payments) for members; 2 queries.

    `scope` is a subquery selecting the same members' ids, so that no id list is sent.
    """
    assessments, reliefs = _histories(scope)
    return {m.id: _book(m, assessments, reliefs) for m in members}


def _fill_paid(
    books: dict[int, Book], scope: Any, first: date | None = None, last: date | None = None
) -> None:
    """Load the live paid months of the books' members (optionally only first..last); 1 query."""
    query = DuesMonth.select(
        DuesMonth.member.alias("member_id"),
        DuesMonth.month,
        DuesMonth.amount_fen,
        DuesMonth.payment.alias("payment_id"),
    ).where(DuesMonth.member.in_(scope), _live_payments())
    if first is not None:
        query = query.where(DuesMonth.month >= first)
    if last is not None:
        query = query.where(DuesMonth.month <= last)
    days = _Days()
    for member_id, month, amount_fen, payment_id in _plain(query):
        book = books.get(member_id)
        if book is not None:
            month = days[month]
            book.paid[month] = _PaidRow(member_id, month, amount_fen, payment_id)


def _month_number(column: Any) -> Any:
    """year x 12 + month of a date column, in SQL: consecutive months get consecutive numbers,
    so a month's bit is arithmetic (a CASE arm per month cost more the more months there
    were). SQLite stores dates as ISO text (YYYY-MM-DD)."""
    if is_sqlite():
        year = fn.substr(column, 1, 4).cast("INTEGER")
        return year * 12 + fn.substr(column, 6, 2).cast("INTEGER")
    return (fn.date_part("year", column) * 12 + fn.date_part("month", column)).cast("INTEGER")


def _month_bits(number: Any, count: int) -> list[Any]:
    """SUM(DISTINCT 1 << n) over a member's rows, n being the row's month number from 0 (the
    first month) to count - 1: the sum of distinct bits is the mask, in SQLite and PostgreSQL
    alike. A column per 60 months (c2, c3 …) keeps the sums in 64 bits."""
    one = SQL("CAST(1 AS BIGINT)")  # a plain 1 is 32 bits in PostgreSQL: 1 << 40 would wrap
    if count <= _MASK_BITS:  # the WHERE clause keeps n in range
        return [fn.SUM(Expression(one, "<<", number).distinct()).alias("c2")]
    return [
        fn.SUM(
            Case(
                None, [(number.between(i, i + _MASK_BITS - 1), Expression(one, "<<", number - i))]
            ).distinct()
        ).alias(f"c{2 + i // _MASK_BITS}")
        for i in range(0, count, _MASK_BITS)
    ]


def _paid_masks(
    scope: Any, first: date, last: date, amounts_of: date | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """Per member (of `scope`, or everyone: None), the live paid months from `first` through
    `last` as a bit mask (bit k = k months after `first`), and (with `amounts_of`, one of the
    months) the fen of the live entry for that month.

    One statement, whatever the number of members, in up to three parts (UNION ALL):
    every paid month, live or not, read from the (member, month, seq) index alone; the months
    whose entries were all reversed (a few: looked up by payment), taken away in Python; the
    fen paid for `amounts_of`. Checking each of 900,000 entries against the reversed
    payments needed a table row for each, half of the statement's time.
    """
    count = _months_between(first, last) + 1
    if count <= 0:
        return {}, {}
    number = _month_number(DuesMonth.month) - (first.year * 12 + first.month)
    bits = _month_bits(number, count)
    in_range = (DuesMonth.month >= first) & (DuesMonth.month <= last)
    if scope is not None:
        in_range &= DuesMonth.member.in_(scope)
    every = (
        DuesMonth.select(SQL("0").alias("c0"), DuesMonth.member.alias("c1"), *bits)
        .where(in_range)
        .group_by(DuesMonth.member)
    )
    live = DuesMonth.alias("live")
    relived = live.select(SQL("1")).where(
        live.member == DuesMonth.member,
        live.month == DuesMonth.month,
        live.payment.not_in(_reversed_ids()),
    )
    freed = (
        DuesMonth.select(SQL("1"), DuesMonth.member, *bits)
        .where(in_range, DuesMonth.payment.in_(_reversed_ids()), ~fn.EXISTS(relived))
        .group_by(DuesMonth.member)
    )
    query = every + freed
    if amounts_of is not None:  # a month has one live entry at most (see DuesMonth.seq)
        cond = (DuesMonth.month == amounts_of) & _live_payments()
        if scope is not None:
            cond &= DuesMonth.member.in_(scope)
        padding = [SQL("NULL")] * (len(bits) - 1)
        query += DuesMonth.select(
            SQL("2"), DuesMonth.member, DuesMonth.amount_fen, *padding
        ).where(cond)
    width = 2 + len(bits)
    values = _packed(query, width)
    masks: dict[int, int] = {}
    reversed_only: dict[int, int] = {}
    amounts: dict[int, int] = {}
    for row in range(0, len(values), width):
        part, member_id = values[row], values[row + 1]
        if part == 2:
            fen = values[row + 2]
            amounts[member_id] = max(fen, amounts.get(member_id, fen))
            continue
        mask = 0
        for j in range(len(bits)):
            mask |= values[row + 2 + j] << (_MASK_BITS * j)
        (masks if part == 0 else reversed_only)[member_id] = mask
    for member_id, mask in reversed_only.items():
        masks[member_id] &= ~mask
    return masks, amounts


@dataclass
class _Ledger:
    """Party members with their dues histories and paid months, loaded once for the
    all-branch views (all_owing, lapse_counts …): 4 queries (5 for the owing). Books are
    built only for the members whose months need judging."""

    members: list[Any]
    assessments: dict[int, list[Any]]
    reliefs: dict[int, list[Any]]
    starts: dict[int, date | None]  # member id → Book.start
    months: list[date]  # oldest first, through the current month; bit k of a mask: months[k]
    paid: dict[int, int]  # member id → mask of the live paid months
    paid_fen: dict[int, int]  # member id → fen paid for the current month (if asked for)
    # Subquery of the members' ids; None for all party members: the aggregates then run over
    # everyone (faster than checking each row against 100,000 ids; the others go unused).
    scope: Any
    books: dict[int, Book] = field(default_factory=dict)
    fens: dict[int, int] = field(default_factory=dict)  # assessment id → monthly fen

    def book(self, member: Any) -> Book:
        found = self.books.get(member.id)
        if found is None:
            found = self.books[member.id] = _book(member, self.assessments, self.reliefs)
        return found

    def fen(self, row: Any, settings: Settings) -> int:
        """monthly_amount of an assessment row, worked out once for the ledger's passes
        (the month's summary, the owing, the six-month rule)."""
        found = self.fens.get(row.id)
        if found is None:
            cfg = settings["dues"]
            found = self.fens[row.id] = _amount_of(
                row.category,
                row.base_fen,
                row.fixed_fen,
                cfg["in_service_rates"],
                cfg["retired_rates"],
                cfg["student_fen"],
            )
        return found

    def due(self, member: Any, month: date, settings: Settings) -> tuple[str, int]:
        """Book.due's state and fen, without a book for most members: one category and
        base, no relief."""
        history = self.assessments.get(member.id)
        if not history:
            return "unset", 0
        if len(history) > 1 or member.id in self.reliefs:
            due = self.book(member).due(month, settings)
            return due.state, due.amount_fen
        start = self.starts[member.id]
        if start is None or month < start:
            return "before", 0
        fen = self.fen(history[0], settings)
        return ("due" if fen > 0 else "exempt"), fen


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _earliest_assessment() -> date | None:
    """The first month of the oldest assessment of anyone (1 query): no start month is
    earlier. Everyone's, not only the party members' of the ledger: without a join it takes
    a tenth of the time, and an earlier bound only adds months that are shifted out."""
    value = DuesAssessment.select(fn.MIN(DuesAssessment.from_month)).scalar()
    return None if value is None else DuesAssessment.from_month.python_value(value)


Start = Callable[..., Callable[[], Any]]  # side_reads' start(func, *args)


def _ledger(
    cond: Expression | None, current: date, depth: int, *, owing: bool, amounts: bool = False
) -> _Ledger:
    """Load party members matching `cond` (4 queries), with their paid months from `depth`
    months before `current` (with `owing`: from the earliest start month, if earlier; 1 more
    query) through `current`, and (with `amounts`) the fen paid for `current`."""
    with side_reads() as start:
        return _start_ledger(start, cond, current, depth, owing=owing, amounts=amounts)()


def _start_ledger(
    start: Start,
    cond: Expression | None,
    current: date,
    depth: int,
    *,
    owing: bool,
    amounts: bool = False,
) -> Callable[[], _Ledger]:
    """_ledger in two steps: the paid months, the longest statement, start now on a worker
    thread; the function returned loads the members and their histories here and joins them.

    For the owing the earliest start month is only known from the members and histories, so
    the worker reads from the oldest assessment (no start month is before it; 1 query) and
    the masks are shifted to the earliest start afterwards.
    """
    oldest = add_months(current, -depth)

    def paid_months() -> tuple[date, tuple[dict[int, int], dict[int, int]]]:
        low = oldest
        if owing:
            earliest = _earliest_assessment()
            if earliest is not None and earliest < low:
                low = earliest
        # Without a condition: over everyone (see _Ledger.scope).
        scope = None if cond is None else _party_scope(cond)
        return low, _paid_masks(scope, low, current, current if amounts else None)

    paid_job = start(paid_months)

    def finish() -> _Ledger:
        members, scope = _party_members(cond)
        if cond is None:
            scope = None
        assessments, reliefs = _histories(scope)
        starts: dict[int, date | None] = {}
        first = oldest  # with `owing`, the earliest start month if earlier
        for m in members:  # _start_month, inline: it runs for every party member
            history = assessments.get(m.id)
            if not history:
                starts[m.id] = None
                continue
            start_month = history[0].from_month
            joined = m.joined_on
            if joined is not None and joined > start_month:
                joined = joined.replace(day=1)
                if joined > start_month:
                    start_month = joined
            starts[m.id] = start_month
            if owing and start_month < first:
                first = start_month
        low, (paid, paid_fen) = paid_job()
        shift = _months_between(low, first)  # low <= first: drop the months before first
        if shift:
            paid = {member_id: mask >> shift for member_id, mask in paid.items()}
        months = month_span(first, current)
        return _Ledger(members, assessments, reliefs, starts, months, paid, paid_fen, scope)

    return finish


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the all-branch views build hundreds of
    thousands of small objects that form no cycles: its full passes over them took ~15 % of
    the time. It runs again (and catches up) when the block ends."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _connected(func: Callable[..., Any], *args: Any) -> Any:
    """Run func on a worker thread with a pooled connection of its own (connections are per
    thread in peewee), given back when it returns."""
    with db.connection_context():
        return func(*args)


@contextmanager
def side_reads(workers: int = 1) -> Iterator[Callable[..., Callable[[], Any]]]:
    """Run independent reads on worker threads (one, or `workers`) while this thread goes on
    with other work.

    Yields ``start(func, *args)``, which queues func for a worker and returns a function that
    waits for its result (and raises its exception). The all-branch jobs are CPU-bound in
    one thread on a machine with more cores; SQLite and psycopg2 release the GIL while a
    statement runs, so a long aggregate on the worker (its rows packed into one string, see
    _packed) overlaps with building objects here; WAL lets readers run side by side. The
    block waits for its workers before it ends, even on an exception.

    Consistency is unchanged: these reads were already separate autocommit statements, each
    seeing the database as of its own start, never one snapshot together. Inside a
    transaction a worker could not see the caller's uncommitted rows, and an in-memory SQLite
    database is private to its connection: there each call runs here, at once.
    """
    if db.in_transaction() or (is_sqlite() and db.obj.database == ":memory:"):

        def at_once(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
            result = func(*args)
            return lambda: result

        yield at_once
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhibu-read") as pool:

        def start(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
            return pool.submit(_connected, func, *args).result

        yield start


def load_book(member: Member) -> Book:
    """Return one member's book with every paid month (4 queries)."""
    scope = Member.select(Member.id).where(Member.id == member.id)
    books = _books([member], scope)
    _fill_paid(books, scope)
    return books[member.id]


# ---- who may do what, and finding members by name -------------------------------------------


def can_collect(actor: Member | None, branch: Branch) -> bool:
    """The branch's secretary or dues collector; a committee admin for the committee's branches."""
    return acts_for(actor, branch, DUES_ROLES)


def require_collector(actor: Member | None, branch: Branch) -> None:
    if can_collect(actor, branch):
        return
    assert actor is not None
    if actor.has_role(*DUES_ROLES):
        raise DomainError(
            f"您只能办理本支部的党费，{branch.name}的党费请由该支部办理。",
            errcode="forbidden",
            status=403,
        )
    raise DomainError(
        "只有支部书记或党费收缴员可以登记和查看支部党费。"
        "如您已交党费，请发送“交党费 金额”报告，例如：交党费 30.00，由收缴员确认。",
        errcode="forbidden",
        status=403,
    )


def find_member(branch: Branch, who: str, example: str) -> Member:
    """Find a branch member by name or mobile number; suggest close names when there is none."""
    who = unicodedata.normalize("NFKC", who).strip()
    if not who:
        raise DomainError(f"请写明党员姓名，例如：{example}")
    phone = normalize_phone(who)
    if phone.isdigit() and len(phone) == 11:
        found = Member.get_or_none((Member.branch == branch.id) & (Member.phone == phone))
        if found is None:
            raise DomainError(f"{branch.name}没有手机号为 {phone} 的党员，请核对。")
        return found
    members = list(Member.select().where(Member.branch == branch.id).order_by(Member.id))
    matches = [m for m in members if m.name == who]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise DomainError(
            f"{branch.name}有 {len(matches)} 位“{who}”，请改用手机号指明是哪一位，"
            f"例如：{example.replace('张三', '13800000001', 1)}"
        )
    names = list(dict.fromkeys(m.name for m in members))
    close = difflib.get_close_matches(who, names, n=3, cutoff=0.4)
    if close:
        raise DomainError(
            f"{branch.name}没有名为“{who}”的党员。您是不是要找：{'、'.join(close)}？"
            f"请核对姓名后重发，例如：{example.replace('张三', close[0], 1)}"
        )
    raise DomainError(
        f"{branch.name}没有名为“{who}”的党员，也没有相近的姓名。"
        "请核对姓名（发送“党费 情况”可查看本支部交纳情况）。"
    )


def _party_member(member: Member) -> None:
    if not member.is_party_member:
        raise DomainError(
            f"{member.name}目前是{member.status_label}，只有预备党员和正式党员交纳党费。",
            errcode="not_party_member",
        )


# ---- categories, bases and relief -----------------------------------------------------------


def set_assessment(
    actor: Member | None,
    member: Member,
    category: str,
    *,
    base_fen: int | None = None,
    fixed_fen: int | None = None,
    from_month: date,
    approved_by: str = "",
    note: str = "",
    now: datetime,
    settings: Settings,
) -> DuesAssessment:
    """Record a member's category and base from a month on (a new row; history is kept)."""
    require_collector(actor, Branch.get_by_id(member.branch_id))
    check_assessment(
        member.name, category, base_fen, fixed_fen, from_month, approved_by, now, settings
    )
    with db.atomic():
        row = DuesAssessment.create(
            member=member.id,
            from_month=from_month,
            category=category,
            base_fen=base_fen if category in BASED_CATEGORIES else None,
            fixed_fen=fixed_fen if category == "farmer" else None,
            approved_by=approved_by.strip()[:100],
            note=note.strip()[:200],
            recorded_by=actor.id if actor else None,
            recorded_at=now,
        )
    log.info("dues category %s set for member %s from %s", category, member.id, from_month)
    return row


def check_assessment(
    name: str,
    category: str,
    base_fen: int | None,
    fixed_fen: int | None,
    from_month: date,
    approved_by: str,
    now: datetime,
    settings: Settings,
) -> None:
    """Refuse an assessment that is incomplete or out of bounds, saying how to fix it."""
    cfg = settings["dues"]
    tz = ZoneInfo(settings["app"]["timezone"])
    if category not in CATEGORIES:
        raise DomainError("党费类别不对，可选：" + "、".join(CATEGORIES.values()))
    if category in BASED_CATEGORIES:
        label = "税后月工资" if category == "in_service" else "月离退休费"
        if base_fen is None:
            raise DomainError(
                f"请写明{name}的{label}（税后，单位元），例如：党费 设置 {name} "
                f"{CATEGORIES[category][:2]} 8000.00"
            )
        if base_fen > cfg["max_base_fen"]:
            raise DomainError(
                f"{label} {fen_to_text(base_fen)} 超过上限 {fen_to_text(cfg['max_base_fen'])}，"
                "请核对是否多写了数字。"
            )
        if monthly_amount(category, base_fen, None, settings) <= 0:
            raise DomainError(
                f"{label} {fen_to_text(base_fen)} 算出的党费不足 1 分，请核对；"
                "没有收入的党员请设为“学生/失业/低保”类别（每月 "
                f"{fen_to_text(cfg['student_fen'])}）。"
            )
    if category == "farmer":
        low, high = cfg["farmer_min_fen"], cfg["farmer_max_fen"]
        if fixed_fen is None or not low <= fixed_fen <= high:
            given = f"（所填 {fen_to_text(fixed_fen)}）" if fixed_fen is not None else ""
            raise DomainError(
                f"农民党员每月交纳的党费由支部确定，应在 {fen_to_text(low)} 至 "
                f"{fen_to_text(high)} 之间{given}，例如：党费 设置 {name} 农民 0.50"
            )
    if category == "exempt" and not approved_by.strip():
        raise DomainError(
            f"免交党费须经上级党委批准，请写明批准人，例如：党费 设置 {name} 免交 批准 某某党委"
        )
    latest = add_months(this_month(now, tz), cfg["prepay_max_months"])
    if from_month > latest:
        raise DomainError(
            f"起始月份 {month_label(from_month)} 太远了，最晚可设到 {month_label(latest)}。"
        )


@dataclass(frozen=True)
class NewAssessment:
    """A category and base for a member from a month on, checked and not yet recorded.

    The amounts are as stored: base_fen only for in_service and retired, fixed_fen only for
    farmer. month_given is False when the month is just "now": then only the category and the
    amounts are compared with the member's history, so the same file imported in a later month
    changes nothing.
    """

    member_id: int
    category: str
    base_fen: int | None
    fixed_fen: int | None
    from_month: date
    month_given: bool = True


def assessment_histories(member_ids: Iterable[int]) -> dict[int, list[Any]]:
    """Return each member's assessments ordered by (from_month, id); a query per 500 members."""
    histories: dict[int, list[Any]] = {}
    for chunk in chunks(sorted(set(member_ids))):
        rows = (
            DuesAssessment.select(
                DuesAssessment.id,
                DuesAssessment.member.alias("member_id"),
                DuesAssessment.from_month,
                DuesAssessment.category,
                DuesAssessment.base_fen,
                DuesAssessment.fixed_fen,
            )
            .where(DuesAssessment.member.in_(chunk))
            .order_by(DuesAssessment.from_month, DuesAssessment.id)
            .namedtuples()
        )
        for row in rows:
            histories.setdefault(row.member_id, []).append(row)
    return histories


def already_recorded(history: Sequence[Any], item: NewAssessment) -> bool:
    """Tell whether recording the item would change nothing in the member's history.

    True when the assessment in effect at the item's month has the same category and amounts
    and, when the month was given, starts in that month.
    """
    current = _assessment_at(history, item.from_month)
    if current is None:
        return False
    if (current.category, current.base_fen, current.fixed_fen) != (
        item.category,
        item.base_fen,
        item.fixed_fen,
    ):
        return False
    return not item.month_given or current.from_month == item.from_month


def add_assessments(
    items: Sequence[NewAssessment], *, actor: Member | None = None, now: datetime
) -> int:
    """Record assessments in bulk (the roster import), as new rows: history is kept.

    Each item was checked with check_assessment; the caller holds the write transaction.
    """
    rows = [
        {
            "member": item.member_id,
            "from_month": item.from_month,
            "category": item.category,
            "base_fen": item.base_fen if item.category in BASED_CATEGORIES else None,
            "fixed_fen": item.fixed_fen if item.category == "farmer" else None,
            "approved_by": "",
            "note": "",
            "recorded_by": actor.id if actor else None,
            "recorded_at": now,
        }
        for item in items
    ]
    for chunk in chunks(rows):
        DuesAssessment.insert_many(chunk).as_rowcount().execute()
    log.info("dues categories recorded for %d members", len(rows))
    return len(rows)


def set_relief(
    actor: Member | None,
    member: Member,
    kind: str,
    months: list[date],
    *,
    amount_fen: int | None = None,
    approved_by: str = "",
    reason: str = "",
    now: datetime,
    settings: Settings,
) -> DuesRelief:
    """Record a hardship reduction or exemption (or its cancellation) over a span of months."""
    require_collector(actor, Branch.get_by_id(member.branch_id))
    _party_member(member)
    if kind not in ("reduce", "exempt", "cancel"):
        raise DomainError("减免方式不对，可选：减交、免交、取消。")
    if not months:
        raise DomainError("请写明减免的月份，例如：2026年1-12月")
    example = f"党费 减免 {member.name} 免交 2026年1-12月 批准 某某党委 家庭困难"
    if kind != "cancel" and not approved_by.strip():
        raise DomainError(
            f"困难党员减免党费须经上级党委批准，请写明批准人（“批准”后面），例如：{example}"
        )
    if kind == "reduce":
        if amount_fen is None or amount_fen <= 0:
            raise DomainError(
                f"请写明减交后每月应交的金额，例如：党费 减免 {member.name} 减交 5.00 "
                "2026年1-12月 批准 某某党委。全部免交请用“免交”。"
            )
        if amount_fen > settings["dues"]["max_payment_fen"]:
            raise MoneyError(f"减交金额 {fen_to_text(amount_fen)} 过大，请核对。")
    with db.atomic():
        row = DuesRelief.create(
            member=member.id,
            kind=kind,
            amount_fen=amount_fen if kind == "reduce" else None,
            from_month=months[0],
            until_month=months[-1],
            approved_by=approved_by.strip()[:100],
            reason=reason.strip()[:200],
            recorded_by=actor.id if actor else None,
            recorded_at=now,
        )
    log.info("dues relief %s for member %s, %s..%s", kind, member.id, months[0], months[-1])
    return row


# ---- planning a payment ---------------------------------------------------------------------


class DuplicateMonth(DomainError):
    """A month is already paid; the message shows the existing entry."""

    errcode = "duplicate_month"
    status = 409


def describe_entry(payment: DuesPayment, tz: ZoneInfo) -> str:
    """Name a ledger entry: 记录编号 12（30.00元，2026年2月5日 由 李四 登记，收缴员登记）."""
    who = payment.recorded_by.name if payment.recorded_by_id else "管理员"
    day = local_day(payment.recorded_at, tz)
    source = PAYMENT_SOURCES.get(payment.source, payment.source)
    return (
        f"记录编号 {payment.id}（{fen_to_text(payment.amount_fen)}，"
        f"{day.year}年{day.month}月{day.day}日 由 {who} 登记，{source}）"
    )


def _duplicate(member: Member, month: date, row: Any, tz: ZoneInfo) -> DuplicateMonth:
    payment = (
        DuesPayment.select(DuesPayment, Member)
        .join(Member, JOIN.LEFT_OUTER, on=DuesPayment.recorded_by == Member.id)
        .where(DuesPayment.id == row.payment_id)
        .get()
    )
    return DuplicateMonth(
        f"{member.name} {month_label(month)}的党费已经登记过了：{describe_entry(payment, tz)}。"
        f"同一月份不能重复登记。如原记录有误，请先发送“更正党费 {payment.id} 原因”，再重新登记。"
    )


def plan_payment(
    book: Book,
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    taken: set[date] | frozenset[date] = frozenset(),
) -> list[tuple[date, int]]:
    """Return the months a dues payment covers with each month's amount, or explain the refusal.

    `taken` holds months already claimed by earlier rows of the same import.
    """
    cfg = settings["dues"]
    tz = ZoneInfo(settings["app"]["timezone"])
    _party_member(member)
    if amount_fen <= 0:
        raise MoneyError(f"金额应大于 0，例如：{PAY_EXAMPLE}")
    if amount_fen > cfg["max_payment_fen"]:
        raise MoneyError(
            f"金额 {fen_to_text(amount_fen)} 超过单笔上限 {fen_to_text(cfg['max_payment_fen'])}，"
            "请核对是否多写了数字。",
            errcode="amount_too_large",
        )
    start = book.start
    if start is None:
        raise DomainError(
            f"{member.name}还没有设置党费类别和工资基数，无法计算应交金额。"
            f"请先发送：{SET_EXAMPLE.replace('张三', member.name)}",
            errcode="dues_not_set",
        )
    current = this_month(now, tz)
    latest = add_months(current, cfg["prepay_max_months"])
    if months is None:
        return _allocate(book, member, amount_fen, start, current, latest, settings, taken)
    plan: list[tuple[date, int]] = []
    for month in months:
        if month < start:
            why = (
                f"（{month_label(book.joined_on.replace(day=1))}入党）"
                if book.joined_on and start == book.joined_on.replace(day=1)
                else ""
            )
            raise DomainError(
                f"{member.name}从 {month_label(start)} 起交纳党费{why}，"
                f"{month_label(month)}不需要交纳。请核对月份。",
                errcode="month_before_start",
            )
        if month > latest:
            raise DomainError(
                f"{month_label(month)}超出了可预交的范围：最多预交到 {month_label(latest)}"
                f"（本月之后 {cfg['prepay_max_months']} 个月）。请核对月份。",
                errcode="month_too_far_ahead",
            )
        if month in book.paid:
            raise _duplicate(member, month, book.paid[month], tz)
        if month in taken:
            raise DomainError(f"{month_label(month)}在本文件中已经登记过一次，不能重复登记。")
        due = book.due(month, settings)
        if due.state == "exempt":
            raise DomainError(
                f"{member.name} {month_label(month)}免交党费（{_exempt_reason(due)}），无需交纳。",
                errcode="month_exempt",
            )
        plan.append((month, due.amount_fen))
    total = sum(fen for _, fen in plan)
    if total != amount_fen:
        extra = amount_fen - total
        hint = (
            f"；多交的部分可另行登记为自愿交纳：收党费 {member.name} {yuan(extra)} 自愿"
            if extra > 0
            else ""
        )
        raise DomainError(
            f"{member.name} {months_text(months)}应交 {fen_to_text(total)}"
            f"（{amounts_text(plan)}），与所填金额 {fen_to_text(amount_fen)} 不符。"
            f"请核对金额或月份，例如：收党费 {member.name} {yuan(total)} "
            f"{months_text(months)}{hint}",
            errcode="amount_mismatch",
        )
    return plan


def _exempt_reason(due: Due) -> str:
    if due.relief is not None:
        return f"困难减免，{due.relief.approved_by}批准"
    return "免交类别"


def _allocate(
    book: Book,
    member: Member,
    amount_fen: int,
    start: date,
    current: date,
    latest: date,
    settings: Settings,
    taken: set[date] | frozenset[date],
) -> list[tuple[date, int]]:
    """Take the oldest unpaid months, then months ahead, whose dues add up to the amount."""
    plan: list[tuple[date, int]] = []
    total = 0
    for month in month_span(start, latest):
        if month in book.paid or month in taken:
            continue
        due = book.due(month, settings)
        if due.state != "due":
            continue
        plan.append((month, due.amount_fen))
        total += due.amount_fen
        if total >= amount_fen:
            break
    if total == amount_fen:
        return plan
    owed = [(m, fen) for m, fen in book.owed(settings, current) if m not in taken]
    owed_fen = sum(fen for _, fen in owed)
    if owed:
        situation = (
            f"{member.name}欠交 {months_text(m for m, _ in owed)}，共 {fen_to_text(owed_fen)}"
            f"（{amounts_text(owed)}）"
        )
        example = f"收党费 {member.name} {yuan(owed_fen)} {months_text(m for m, _ in owed)}"
    else:
        nxt = next(iter(plan), None)
        situation = f"{member.name}目前没有欠交的党费" + (
            f"，{month_label(nxt[0])}起每月应交 {fen_to_text(nxt[1])}" if nxt else ""
        )
        example = (
            f"收党费 {member.name} {yuan(nxt[1])} {month_label(nxt[0])}"
            if nxt
            else f"收党费 {member.name} {yuan(amount_fen)} 自愿"
        )
    raise DomainError(
        f"{situation}。所填 {fen_to_text(amount_fen)} 不能正好对应若干个月的党费，"
        f"请写明月份并按应交金额登记，例如：{example}",
        errcode="amount_mismatch",
    )


# ---- recording payments ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    payment: DuesPayment
    months: list[tuple[date, int]]


def _seqs(member_id: int, months: list[date]) -> dict[date, int]:
    """How many reversed payments each month had: the seq a new live row takes.

    Only reversed rows are counted, never a live one: a payment committed by someone else after
    this one was planned then has the same seq, and the unique index refuses the second.
    """
    rows = (
        DuesMonth.select(DuesMonth.month, fn.COUNT(DuesMonth.id))
        .where(
            DuesMonth.member == member_id,
            DuesMonth.month.in_(months),
            DuesMonth.payment.in_(_reversed_ids()),
        )
        .group_by(DuesMonth.month)
        .tuples()
    )
    found = {DuesMonth.month.python_value(m): n for m, n in rows}
    return {m: found.get(m, 0) for m in months}


def _insert_payment(
    actor: Member | None,
    member: Member,
    plan: list[tuple[date, int]],
    *,
    source: str,
    now: datetime,
    report: DuesReport | None = None,
    note: str = "",
) -> DuesPayment:
    """Write one dues payment and its months (the unique index guards each month)."""
    seqs = _seqs(member.id, [m for m, _ in plan])
    payment = DuesPayment.create(
        member=member.id,
        kind="dues",
        amount_fen=sum(fen for _, fen in plan),
        source=source,
        report=report.id if report else None,
        note=note.strip()[:200],
        recorded_by=actor.id if actor else None,
        recorded_at=now,
    )
    DuesMonth.insert_many(
        [
            {
                "payment": payment.id,
                "member": member.id,
                "month": month,
                "amount_fen": fen,
                "seq": seqs[month],
            }
            for month, fen in plan
        ]
    ).execute()
    return payment


def record_payment(
    actor: Member | None,
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    source: str = "collector",
    report: DuesReport | None = None,
    note: str = "",
) -> Recorded:
    """收党费: record dues for some months (or the oldest unpaid ones), checked to the fen."""
    tz = ZoneInfo(settings["app"]["timezone"])
    require_collector(actor, Branch.get_by_id(member.branch_id))
    book = load_book(member)
    plan = plan_payment(book, member, amount_fen, months, now=now, settings=settings)
    try:
        with db.atomic():
            payment = _insert_payment(
                actor, member, plan, source=source, now=now, report=report, note=note
            )
    except IntegrityError:
        # Another collector recorded one of these months (or this report) at the same moment.
        book = load_book(member)
        for month, _ in plan:
            if month in book.paid:
                raise _duplicate(member, month, book.paid[month], tz) from None
        if report is not None:
            raise DomainError(
                f"{member.name}的这笔报告刚刚已被确认，无需重复确认。",
                errcode="report_decided",
                status=409,
            ) from None
        raise
    log.info("dues payment %s: member %s, %d months", payment.id, member.id, len(plan))
    return Recorded(payment, plan)


def record_voluntary(
    actor: Member | None,
    member: Member,
    amount_fen: int,
    *,
    now: datetime,
    settings: Settings,
    source: str = "collector",
    note: str = "",
) -> DuesPayment:
    """Record a voluntary payment (自愿交纳): no months; kept apart from the monthly dues."""
    cfg = settings["dues"]
    require_collector(actor, Branch.get_by_id(member.branch_id))
    _party_member(member)
    if amount_fen <= 0:
        raise MoneyError(f"金额应大于 0，例如：收党费 {member.name} 1000.00 自愿")
    if amount_fen > cfg["max_payment_fen"]:
        raise MoneyError(
            f"金额 {fen_to_text(amount_fen)} 超过单笔上限 {fen_to_text(cfg['max_payment_fen'])}，"
            "请核对是否多写了数字。",
            errcode="amount_too_large",
        )
    with db.atomic():
        payment = DuesPayment.create(
            member=member.id,
            kind="voluntary",
            amount_fen=amount_fen,
            source=source,
            note=note.strip()[:200],
            recorded_by=actor.id if actor else None,
            recorded_at=now,
        )
    return payment


def goes_up_whole(payment: DuesPayment, settings: Settings) -> bool:
    """A voluntary payment at or above the threshold goes upward whole (DOMAIN.md)."""
    return (
        payment.kind == "voluntary"
        and payment.amount_fen >= settings["dues"]["voluntary_whole_fen"]
    )


def reverse_payment(
    actor: Member | None, payment_id: int, reason: str, *, now: datetime
) -> DuesPayment:
    """更正党费: cancel an entry with a new, opposite one; its months may then be paid again."""
    original = DuesPayment.get_or_none(DuesPayment.id == payment_id)
    if original is None:
        raise DomainError(
            f"没有编号为 {payment_id} 的党费记录，请核对编号。", errcode="not_found", status=404
        )
    member = Member.get_by_id(original.member_id)
    require_collector(actor, Branch.get_by_id(member.branch_id))
    if original.kind == "reversal":
        raise DomainError(
            f"记录 {payment_id} 本身就是一条更正记录，不能再更正。", errcode="not_reversible"
        )
    reason = reason.strip()
    if not reason:
        raise DomainError(
            f"请写明更正原因，例如：更正党费 {payment_id} 金额登记错误",
            errcode="reason_required",
        )
    try:
        with db.atomic():
            entry = DuesPayment.create(
                member=member.id,
                kind="reversal",
                amount_fen=-original.amount_fen,
                source="collector" if actor else "cli",
                reverses=original.id,
                note=reason[:200],
                recorded_by=actor.id if actor else None,
                recorded_at=now,
            )
    except IntegrityError:
        raise DomainError(
            f"记录 {payment_id} 已经更正过了，无需重复更正。",
            errcode="already_reversed",
            status=409,
        ) from None
    log.info("dues payment %s reversed by %s", payment_id, entry.id)
    return entry


# ---- a member's own report ------------------------------------------------------------------


def pending_report(member: Member) -> DuesReport | None:
    return DuesReport.get_or_none(
        (DuesReport.member == member.id) & (DuesReport.status == "pending")
    )


def report_payment(
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> tuple[DuesReport, list[tuple[date, int]]]:
    """交党费: a member reports a payment; it is checked now and waits for a collector."""
    tz = ZoneInfo(settings["app"]["timezone"])
    existing = pending_report(member)
    if existing is not None:
        raise DomainError(_pending_refusal(existing, tz), errcode="report_pending", status=409)
    book = load_book(member)
    plan = plan_payment(book, member, amount_fen, months, now=now, settings=settings)
    try:
        with db.atomic():
            report = DuesReport.create(
                member=member.id,
                amount_fen=amount_fen,
                from_month=months[0] if months else None,
                until_month=months[-1] if months else None,
                note=note.strip()[:200],
                reported_at=now,
            )
    except IntegrityError:
        raise DomainError(
            _pending_refusal(pending_report(member), tz), errcode="report_pending", status=409
        ) from None
    return report, plan


def _pending_refusal(report: DuesReport | None, tz: ZoneInfo) -> str:
    if report is None:
        return "您已有一笔待确认的党费报告，请等待党费收缴员确认。"
    day = local_day(report.reported_at, tz)
    return (
        f"您在 {day.month}月{day.day}日 报告的 {fen_to_text(report.amount_fen)} 还在等待党费收缴员"
        "确认，确认或退回后才能再次报告。如有疑问请联系收缴员。"
    )


def _report_of(actor: Member, name: str, example: str) -> tuple[Member, DuesReport]:
    branch = Branch.get_by_id(actor.branch_id)
    require_collector(actor, branch)
    member = find_member(branch, name, example)
    report = pending_report(member)
    if report is None:
        raise DomainError(f"{member.name}没有待确认的党费报告。")
    return member, report


def _decided(member: Member, report: DuesReport) -> DomainError:
    status = REPORT_STATUSES.get(report.status, report.status)
    return DomainError(
        f"{member.name}的这笔党费报告（{fen_to_text(report.amount_fen)}）已{status}，"
        "无需重复处理。",
        errcode="report_decided",
        status=409,
    )


def _report_row(actor: Member, report: DuesReport) -> Member:
    """The member of a report picked by id: the actor must collect for their branch, and the
    report must still be pending."""
    member = Member.get_by_id(report.member_id)
    require_collector(actor, Branch.get_by_id(member.branch_id))
    if report.status != "pending":
        raise _decided(member, report)
    return member


def confirm_report(
    actor: Member, name: str, *, now: datetime, settings: Settings
) -> tuple[Member, Recorded]:
    """确认党费: turn the member's pending report into a payment."""
    member, report = _report_of(actor, name, "确认党费 张三")
    return member, _confirm(actor, member, report, now=now, settings=settings)


def confirm_report_row(
    actor: Member, report: DuesReport, *, now: datetime, settings: Settings
) -> tuple[Member, Recorded]:
    """确认党费 for a report picked by id rather than by the member's name."""
    member = _report_row(actor, report)
    return member, _confirm(actor, member, report, now=now, settings=settings)


def _confirm(
    actor: Member, member: Member, report: DuesReport, *, now: datetime, settings: Settings
) -> Recorded:
    months = None
    if report.from_month is not None:
        months = month_span(report.from_month, report.until_month)
    with db.atomic():
        recorded = record_payment(
            actor,
            member,
            report.amount_fen,
            months,
            now=now,
            settings=settings,
            source="report",
            report=report,
            note=report.note,
        )
        done = (
            DuesReport.update(
                status="confirmed", undecided=None, decided_by=actor.id, decided_at=now
            )
            .where(DuesReport.id == report.id, DuesReport.status == "pending")
            .execute()
        )
        if done != 1:
            raise DomainError(
                f"{member.name}的这笔报告刚刚已被处理，无需重复确认。",
                errcode="report_decided",
                status=409,
            )
    return recorded


def reject_report(actor: Member, name: str, reason: str, *, now: datetime) -> DuesReport:
    """退回党费: send a member's report back; nothing is recorded."""
    member, report = _report_of(actor, name, "退回党费 张三 未收到款项")
    return _reject(actor, member, report, reason, now=now)


def reject_report_row(
    actor: Member, report: DuesReport, reason: str, *, now: datetime
) -> DuesReport:
    """退回党费 for a report picked by id rather than by the member's name."""
    member = _report_row(actor, report)
    return _reject(actor, member, report, reason, now=now)


def _reject(
    actor: Member, member: Member, report: DuesReport, reason: str, *, now: datetime
) -> DuesReport:
    done = (
        DuesReport.update(
            status="rejected",
            undecided=None,
            decided_by=actor.id,
            decided_at=now,
            decision_note=reason.strip()[:200],
        )
        .where(DuesReport.id == report.id, DuesReport.status == "pending")
        .execute()
    )
    if done != 1:
        raise DomainError(
            f"{member.name}的这笔报告刚刚已被处理。", errcode="report_decided", status=409
        )
    return DuesReport.get_by_id(report.id)


# ---- views ----------------------------------------------------------------------------------


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
    tz = ZoneInfo(settings["app"]["timezone"])
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


def _party_cond(where: Expression | None) -> Expression:
    cond = Member.status.in_(PARTY_MEMBER_STATUSES)
    return cond if where is None else cond & where


def _party_scope(where: Expression | None) -> Any:
    """A subquery of the ids of the party members matching `where` (a new one each call:
    side_reads' threads render their own)."""
    return Member.select(Member.id).join(Branch).where(_party_cond(where))


def _party_members(where: Expression | None) -> tuple[list[Any], Any]:
    """Party members (with their branch's name) and a subquery of their ids."""
    cond = _party_cond(where)
    query = (
        Member.select(
            Member.id,
            Member.name,
            Member.status,
            Member.branch.alias("branch_id"),
            Member.joined_on,
            Branch.name.alias("branch_name"),
        )
        .join(Branch)
        .where(cond)
        .order_by(Member.branch, Member.id)
    )
    days = _Days()
    members = [
        _MemberRow(id_, name, status, branch_id, days[joined_on], branch_name)
        for id_, name, status, branch_id, joined_on, branch_name in _plain(query)
    ]
    return members, _party_scope(where)


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
    ledger: _Ledger, settings: Settings
) -> Iterator[tuple[int, int | None, str, int]]:
    """_judged_books for the ledger's current month (loaded with amounts); _Ledger.due, with
    the common member (one category and base, no relief) worked out here."""
    month = ledger.months[-1]
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
        ledger = _ledger(branch_cond, month, 0, owing=False, amounts=True)
        return _summaries(list(branches), _judged_ledger(ledger, settings), month)


def month_summary_and_owing(
    now: datetime, settings: Settings
) -> tuple[list[BranchMonthSummary], list[MemberOwing]]:
    """branch_month_summary for this month and all_owing at once, for the monthly reminder:
    members, dues histories and paid months are loaded once (6 queries, not 11)."""
    current = this_month(now, ZoneInfo(settings["app"]["timezone"]))
    branches = Branch.select(Branch.id, Branch.name).order_by(Branch.id)
    with gc_paused():
        ledger = _ledger(None, current, 0, owing=True, amounts=True)
        summaries = _summaries(list(branches), _judged_ledger(ledger, settings), current)
        return summaries, _owing(ledger, settings)


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
    tz = ZoneInfo(settings["app"]["timezone"])
    month = month.replace(day=1)
    through = max(month, this_month(now, tz))
    members, scope = _party_members(Member.branch == branch.id)
    books = _books(members, scope)
    _fill_paid(books, scope)
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
    current = this_month(now, ZoneInfo(settings["app"]["timezone"]))
    with gc_paused():
        return _owing(_ledger(None, current, 0, owing=True), settings)


def _owing(ledger: _Ledger, settings: Settings) -> list[MemberOwing]:
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


# ---- the six-month rule ---------------------------------------------------------------------

REASONS = {"dues": "未交纳党费", "meetings": "未参加组织生活"}


@dataclass(frozen=True)
class LapseCount:
    """A member's consecutive months unpaid and without attending, counted back from last month."""

    member_id: int
    member_name: str
    branch_id: int
    branch_name: str
    dues_months: int
    dues_since: date | None
    dues_at_least: bool  # the run reaches the lookback limit: it may be longer
    meeting_months: int
    meeting_since: date | None
    meeting_at_least: bool


@dataclass(frozen=True)
class LapseAlert:
    """A member at 3, 5 or 6+ consecutive months for one reason."""

    branch_id: int
    branch_name: str
    member_id: int
    member_name: str
    reason: str  # dues | meetings
    months: int
    at_least: bool
    level: int  # the highest threshold reached: alert_first, alert_second or lapse months
    since: date

    @property
    def reason_label(self) -> str:
        return REASONS[self.reason]


def _utc(month: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(month, time(), tzinfo=tz).astimezone(UTC)


def _month_bit(column: Any, bounds: list[tuple[Any, Any]]) -> Case:
    """1 << k for the k-th range (newest first) that holds the column's value."""
    return Case(
        None,
        [((column >= start) & (column < end), 1 << k) for k, (start, end) in enumerate(bounds)],
    )


def _meeting_months(
    scope: Any, months: list[date], at: datetime, tz: ZoneInfo
) -> dict[int, tuple[int, int, int]]:
    """Per member (of `scope`, or everyone: None), bit masks over the months (bit k =
    months[k], newest first) of the months with a meeting they were expected at, attended, and
    had approved leave for.

    One aggregated query: only meetings held (scheduled and ended by `at`) count. Summing the
    distinct bits of a member's rows gives the mask in SQLite and PostgreSQL alike. Each held
    meeting's bit is worked out once, in a materialized CTE, not once per attendee and mask.
    The rows come back packed in one string (_packed): this runs on a worker thread.
    """
    bounds = [(_utc(m, tz), _utc(add_months(m, 1), tz)) for m in months]
    held = (
        Meeting.select(Meeting.id, _month_bit(Meeting.starts_at, bounds).alias("bit"))
        .where(
            Meeting.status == "scheduled",
            Meeting.ends_at <= at,
            Meeting.starts_at >= bounds[-1][0],
            Meeting.starts_at < bounds[0][1],
        )
        .cte("held_meeting", materialized=_MATERIALIZED_CTE or None)
    )
    bit = held.c.bit
    present = Attendance.status == "present"
    excused = (Attendance.status == "leave") & (Attendance.leave_status == "approved")
    query = (
        MeetingAttendee.select(
            MeetingAttendee.member.alias("c0"),
            fn.SUM(bit.distinct()).alias("c1"),
            fn.SUM(Case(None, [(present, bit)]).distinct()).alias("c2"),
            fn.SUM(Case(None, [(excused, bit)]).distinct()).alias("c3"),
        )
        .join(held, on=MeetingAttendee.meeting == held.c.id)
        .join(
            Attendance,
            JOIN.LEFT_OUTER,
            on=(Attendance.meeting == MeetingAttendee.meeting)
            & (Attendance.member == MeetingAttendee.member),
        )
        .group_by(MeetingAttendee.member)
        .with_cte(held)
    )
    if scope is not None:
        query = query.where(MeetingAttendee.member.in_(scope))
    values = _packed(query, 4)
    return {
        values[i]: (values[i + 1], values[i + 2], values[i + 3]) for i in range(0, len(values), 4)
    }


_NO_RUN: tuple[int, date | None, bool] = (0, None, False)


def _dues_run(
    member: Any, ledger: _Ledger, months: list[date], settings: Settings
) -> tuple[int, date | None, bool]:
    """Consecutive owed months back from last month (`months`: newest first, from the current).

    Book.state over the ledger's paid mask, where the current month is the top bit: a month is
    owed when unpaid and due (every month here but the first is before the current one).
    """
    paid = ledger.paid.get(member.id, 0)
    top = len(ledger.months) - 1
    history = ledger.assessments.get(member.id)
    if paid >> top & 1 or not history:
        return _NO_RUN  # paid this month, or no category yet ("unset": never owed)
    if len(history) == 1 and member.id not in ledger.reliefs:
        # One category and base, no relief: from the start month every month is due (or
        # every one exempt); before it, none is owed.
        if ledger.fen(history[0], settings) <= 0:
            return _NO_RUN
        start = ledger.starts[member.id]
        run, since = 0, None
        for k in range(1, len(months)):
            if paid >> (top - k) & 1 or months[k] < start:
                return run, since, False
            run, since = run + 1, months[k]
        return run, since, True
    book = ledger.book(member)
    if book.due(months[0], settings).state == "exempt":
        return _NO_RUN
    run, since = 0, None
    for k in range(1, len(months)):
        if paid >> (top - k) & 1 or book.due(months[k], settings).state != "due":
            return run, since, False
        run, since = run + 1, months[k]
    return run, since, True


def _meeting_run(
    masks: tuple[int, int, int] | None, months: list[date]
) -> tuple[int, date | None, bool]:
    if masks is None:
        return 0, None, False
    expected, attended, excused = masks
    if (attended | excused) & 1:  # this month: attended or excused already
        return 0, None, False
    run, since = 0, None
    for k, month in enumerate(months[1:], start=1):
        if (attended | excused) >> k & 1:
            return run, since, False
        if expected >> k & 1:
            run, since = run + 1, month
    return run, since, since is not None and since == months[-1]


def lapse_counts(
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
    member_id: int | None = None,
) -> list[LapseCount]:
    """Consecutive months unpaid and without attending, for every party member (5 queries)."""
    cond = _lapse_scope(committee_id, branch_id, member_id)
    with gc_paused():
        loaded = _lapse_load(at, settings, cond, owing=False)
        return [LapseCount(*row) for row in _lapse_rows(*loaded, settings)]


def _lapse_scope(
    committee_id: int | None, branch_id: int | None, member_id: int | None
) -> Expression | None:
    cond = None
    if committee_id is not None:
        cond = Branch.committee == committee_id
    if branch_id is not None:
        cond = Member.branch == branch_id
    if member_id is not None:
        cond = Member.id == member_id
    return cond


def _lapse_depth(settings: Settings) -> int:
    cfg = settings["dues"]
    return max(cfg["lookback_months"], cfg["lapse_months"])


def _lapse_load(
    at: datetime, settings: Settings, cond: Expression | None, *, owing: bool
) -> tuple[_Ledger, dict[int, tuple[int, int, int]], list[date]]:
    """The ledger (from the current month back the lapse depth; with `owing`, from the
    earliest start month) and the meeting masks of the party members matching `cond`, and
    the months counted, newest first: 5 queries (6 with `owing`)."""
    with side_reads() as start:
        ledger, meetings, months = _start_lapse(start, at, settings, cond, owing=owing)
        return ledger(), meetings(), months


def _start_lapse(
    start: Start, at: datetime, settings: Settings, cond: Expression | None, *, owing: bool
) -> tuple[Callable[[], _Ledger], Callable[[], dict[int, tuple[int, int, int]]], list[date]]:
    """_lapse_load in steps: the paid months and the meeting aggregate start now on the
    worker threads (in this order: the paid months are needed first); the functions returned
    finish the ledger here and wait for the meetings. The months: newest first."""
    tz = ZoneInfo(settings["app"]["timezone"])
    depth = _lapse_depth(settings)
    current = this_month(at, tz)
    months = [add_months(current, -k) for k in range(depth + 1)]  # newest first
    ledger = _start_ledger(start, cond, current, depth, owing=owing)  # needed first
    scope = None if cond is None else _party_scope(cond)  # as the ledger's
    meetings = start(_meeting_months, scope, months, at, tz)
    return ledger, meetings, months


def _lapse_rows(
    ledger: _Ledger,
    meetings: dict[int, tuple[int, int, int]],
    months: list[date],
    settings: Settings,
) -> Iterator[tuple]:
    """The fields of a LapseCount for every party member of the ledger (no queries)."""
    for m in ledger.members:
        dues = _dues_run(m, ledger, months, settings)
        meeting = _meeting_run(meetings.get(m.id), months)
        yield (m.id, m.name, m.branch_id, m.branch_name, *dues, *meeting)


def _alert_candidates(
    ledger: _Ledger,
    meetings: dict[int, tuple[int, int, int]],
    months: list[date],
    settings: Settings,
) -> Iterator[tuple]:
    """_lapse_rows of the members whose run may reach the first alert level for a reason;
    a look at the masks rules out the rest (most members) without counting their runs."""
    least = _alert_levels(settings)[0]
    depth = len(months) - 1
    # A dues run of `least` months needs this month and the `least` before it unpaid: the
    # bits from top - least to top (top, the current month's bit, is >= depth).
    shift = len(ledger.months) - 1 - least
    window = (1 << (least + 1)) - 1
    dues_possible = least <= depth
    paid = ledger.paid.get
    everything = 1 << len(months)
    for m in ledger.members:
        if not dues_possible or paid(m.id, 0) >> shift & window:
            masks = meetings.get(m.id)
            if masks is None:
                continue
            expected, attended, excused = masks
            stops = attended | excused
            if stops & 1:
                continue
            stops &= ~1
            limit = stops & -stops if stops else everything  # the first month that ends it
            if (expected & (limit - 1) & ~1).bit_count() < least:  # _meeting_run's count
                continue
        yield (
            m.id,
            m.name,
            m.branch_id,
            m.branch_name,
            *_dues_run(m, ledger, months, settings),
            *_meeting_run(meetings.get(m.id), months),
        )


def lapse_alerts(
    at: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> list[LapseAlert]:
    """Members at 3, 5 or 6+ consecutive months, per reason, for all branches (5 queries)."""
    cond = _lapse_scope(committee_id, branch_id, None)
    with gc_paused():
        loaded = _lapse_load(at, settings, cond, owing=False)
        return _alerts(_alert_candidates(*loaded, settings), settings)


def _alert_levels(settings: Settings) -> list[int]:
    cfg = settings["dues"]
    return sorted({cfg["alert_first_months"], cfg["alert_second_months"], cfg["lapse_months"]})


def _alerts(rows: Iterable[tuple], settings: Settings) -> list[LapseAlert]:
    levels = _alert_levels(settings)
    alerts = []
    for member_id, name, branch_id, branch_name, *runs in rows:
        if runs[0] < levels[0] and runs[3] < levels[0]:
            continue  # most members
        for reason, (months, since, at_least) in (("dues", runs[:3]), ("meetings", runs[3:])):
            reached = [level for level in levels if months >= level]
            if reached and since is not None:
                alerts.append(
                    LapseAlert(
                        branch_id,
                        branch_name,
                        member_id,
                        name,
                        reason,
                        months,
                        at_least,
                        reached[-1],
                        since,
                    )
                )
    alerts.sort(key=lambda a: (a.branch_id, -a.months, a.member_id, a.reason))
    return alerts


def owing_and_lapse_alerts(
    at: datetime, settings: Settings, cond: Expression | None = None
) -> tuple[list[MemberOwing], list[LapseAlert]]:
    """all_owing and lapse_alerts at once, for the secretaries' digest: the members (all, or
    those matching `cond`, e.g. one branch's), their dues histories and paid months are
    loaded once (6 queries, not 10)."""
    with owing_and_lapse_alerts_started(at, settings, cond) as finish:
        return finish()


@contextmanager
def owing_and_lapse_alerts_started(
    at: datetime, settings: Settings, cond: Expression | None = None
) -> Iterator[Callable[[], tuple[list[MemberOwing], list[LapseAlert]]]]:
    """owing_and_lapse_alerts in two steps, for a caller with other reads to do: entering
    starts its two long aggregates (paid months, meetings) on two worker threads; the
    function yielded does the rest here and returns (owing, alerts). Reads the caller does
    in between overlap with the workers'. (Together the aggregates take longer than this
    thread's work, hence a worker each.)"""
    with gc_paused(), side_reads(2) as start:
        ledger_job, meetings, months = _start_lapse(start, at, settings, cond, owing=True)

        def finish() -> tuple[list[MemberOwing], list[LapseAlert]]:
            ledger = ledger_job()
            owing = _owing(ledger, settings)  # while the meeting aggregate may still run
            candidates = _alert_candidates(ledger, meetings(), months, settings)
            return owing, _alerts(candidates, settings)

        yield finish


def member_lapse(member: Member, at: datetime, settings: Settings) -> LapseCount:
    """One member's consecutive months unpaid and without attending (5 queries)."""
    found = lapse_counts(at, settings, member_id=member.id)
    if found:
        return found[0]
    return LapseCount(member.id, member.name, member.branch_id, "", 0, None, False, 0, None, False)


# ---- bulk import ----------------------------------------------------------------------------

# Canonical columns of a payments file and the header texts accepted for each.
PAYMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "amount": ("金额", "党费金额", "交纳金额", "缴纳金额", "实交金额", "实缴金额"),
    "months": ("月份", "所属月份", "交纳月份", "缴纳月份", "党费月份"),
    "kind": ("类型", "交纳类型", "缴纳类型"),
    "note": ("备注", "说明"),
}
PAYMENT_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "amount": "金额",
    "months": "月份",
    "kind": "类型",
    "note": "备注",
}
PAYMENT_REQUIRED = ("name", "phone", "amount")

ASSESSMENT_COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "手机", "联系手机"),
    "category": ("党费类别", "类别", "交纳类别"),
    "base": ("税后月收入", "月收入", "工资基数", "基数", "税后工资", "离退休费"),
    "fixed": ("月交金额", "定额", "农民月交金额"),
    "from_month": ("起始月份", "起交月份", "生效月份", "开始月份"),
    "approved_by": ("批准人", "批准"),
}
ASSESSMENT_LABELS = {
    "name": "姓名",
    "phone": "手机号",
    "category": "党费类别",
    "base": "税后月收入",
    "fixed": "月交金额",
    "from_month": "起始月份",
    "approved_by": "批准人",
}
ASSESSMENT_REQUIRED = ("name", "phone", "category")

CATEGORY_WORDS: dict[str, str] = {
    **{label: code for code, label in CATEGORIES.items()},
    **{code: code for code in CATEGORIES},
    "在职党员": "in_service",
    "在岗": "in_service",
    "离退休": "retired",
    "退休": "retired",
    "离休": "retired",
    "离退休党员": "retired",
    "农民": "farmer",
    "农民党员": "farmer",
    "学生": "student",
    "学生党员": "student",
    "下岗": "student",
    "失业": "student",
    "下岗失业": "student",
    "救济": "student",
    "领取救济": "student",
    "低保": "student",
    "免交": "exempt",
    "免缴": "exempt",
}
# What a file's 党费类别 cell may say, for error messages.
CATEGORY_CHOICES = "在职、离退休、农民、学生（或下岗失业、救济、低保）、免交"
VOLUNTARY_WORDS = ("自愿", "自愿交纳", "自愿多交", "自愿缴纳", "特殊党费")
DUES_WORDS = ("", "党费", "月党费", "按月", "正常")
_EXCEL_DAY_ONE = re.compile(r"(\d{4})-(\d{2})-01")
HEADER_SEARCH_ROWS = 10


class DuesImportError(DomainError):
    """The file has errors; nothing was imported. `errors` lists every one."""

    def __init__(self, errors: list[RowError]) -> None:
        self.errors = errors
        lines = "\n".join(e.message for e in errors)
        super().__init__(f"文件有 {len(errors)} 处错误，未导入任何数据：\n{lines}")


@dataclass(frozen=True)
class ImportResult:
    payments: int
    months: int
    voluntary: int
    total_fen: int


def _read_table(
    path: str | os.PathLike[str],
    columns: dict[str, tuple[str, ...]],
    labels: dict[str, str],
    required: tuple[str, ...],
    settings: Settings,
) -> list[tuple[int, dict[str, str]]]:
    """Read an .xlsx or .csv (roster's readers, the [imports] limits) into numbered rows."""
    lookup = {header_key(alias): key for key, aliases in columns.items() for alias in aliases}
    expected = (
        "表头应为："
        + "、".join(labels[k] for k in required)
        + "（必填），"
        + "、".join(labels[k] for k in columns if k not in required)
        + "（选填）"
    )
    rows: Iterator[list[Any]] = table_rows(os.fspath(path), settings)
    header: dict[str, int] | None = None
    header_row = first = 0
    for row_number, cells in enumerate(rows, start=1):
        texts = [cell_text(c) for c in cells]
        if not first and any(texts):
            first = row_number
        found = {}
        for index, text in enumerate(texts):
            key = lookup.get(header_key(text))
            if key is not None and key not in found:
                found[key] = index
        if found:
            missing = [labels[k] for k in required if k not in found]
            if missing:
                raise DuesImportError(
                    [
                        row_error(
                            row_number, "表头缺少必填列“" + "”“".join(missing) + "”。" + expected
                        )
                    ]
                )
            header, header_row = found, row_number
            break
        if row_number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        if not first:
            raise DuesImportError([row_error(1, "文件是空的，没有表头和数据")])
        raise DuesImportError([row_error(first, "找不到表头。" + expected)])
    width = max(header.values()) + 1
    out = []
    for row_number, cells in enumerate(rows, start=header_row + 1):
        cells = list(cells) + [None] * max(0, width - len(cells))
        values = {key: cell_text(cells[index]) for key, index in header.items()}
        if any(v.strip() for v in values.values()):
            out.append((row_number, values))
    return out


def _import_members(
    rows: list[tuple[int, dict[str, str]]], committee: Committee | None
) -> tuple[dict[str, Member], list[RowError]]:
    """Check names and phones; return the members by phone and the row errors."""
    errors: list[RowError] = []
    phones: dict[int, str] = {}
    for n, values in rows:
        name, raw = values.get("name", "").strip(), values.get("phone", "")
        if not name:
            errors.append(row_error(n, "姓名不能为空"))
        if not raw.strip():
            errors.append(row_error(n, "手机号不能为空"))
            continue
        phone = normalize_phone(raw)
        problem = phone_problem(raw, phone)
        if problem:
            errors.append(row_error(n, problem))
        else:
            phones[n] = phone
    found: dict[str, Member] = {}
    for chunk in chunks(sorted(set(phones.values()))):
        query = Member.select(Member, Branch).join(Branch).where(Member.phone.in_(chunk))
        if committee is not None:
            query = query.where(Branch.committee == committee.id)
        found.update({m.phone: m for m in query})
    for n, values in rows:
        phone = phones.get(n)
        if phone is None:
            continue
        member = found.get(phone)
        name = values.get("name", "").strip()
        if member is None:
            where = f"{committee.name}的" if committee else ""
            errors.append(row_error(n, f"手机号“{values['phone']}”不在{where}党员名册中，请核对"))
        elif name and member.name != name:
            errors.append(
                row_error(
                    n, f"手机号“{values['phone']}”登记的是“{member.name}”，与姓名“{name}”不符"
                )
            )
    return found, errors


def _books_of(members: list[Member]) -> dict[int, Book]:
    """Books with every paid month for the members of a file, a few queries per 500."""
    books: dict[int, Book] = {}
    for chunk in chunks(members):
        scope = Member.select(Member.id).where(Member.id.in_([m.id for m in chunk]))
        part = _books(chunk, scope)
        _fill_paid(part, scope)
        books.update(part)
    return books


def _require_collector_of(actor: Member | None, branch_ids: set[int]) -> None:
    if actor is not None:
        for branch in Branch.select().where(Branch.id.in_(sorted(branch_ids))):
            require_collector(actor, branch)


def category_of(text: str) -> str | None:
    """Return the category code a file's 党费类别 cell names (在职, 低保 …), or None."""
    return CATEGORY_WORDS.get(re.sub(r"\s", "", unicodedata.normalize("NFKC", text)))


def cell_month(text: str, *, now: datetime, tz: ZoneInfo) -> date:
    """Read one month from a file cell: 2026年1月, 2026-01, 本月, or an Excel date on the 1st."""
    text = text.strip()
    day_one = _EXCEL_DAY_ONE.fullmatch(text)  # Excel turns a typed 2026年1月 into a date
    if day_one:
        text = f"{day_one.group(1)}-{day_one.group(2)}"
    return parse_one_month(text, now=now, tz=tz)


def _import_months(text: str, now: datetime, tz: ZoneInfo) -> list[date] | None:
    text = text.strip()
    if not text:
        return None
    day_one = _EXCEL_DAY_ONE.fullmatch(text)  # an Excel date cell holding a month
    if day_one:
        text = f"{day_one.group(1)}-{day_one.group(2)}"
    return parse_months(text, now=now, tz=tz)


@dataclass(frozen=True)
class _PaymentRow:
    row_number: int
    member: Member
    amount_fen: int
    voluntary: bool
    plan: list[tuple[date, int]]
    note: str


def check_payments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None,
    now: datetime,
    settings: Settings,
) -> list[_PaymentRow]:
    """Check every row of a payments file; raise DuesImportError listing every error."""
    tz = ZoneInfo(settings["app"]["timezone"])
    rows = _read_table(path, PAYMENT_COLUMNS, PAYMENT_LABELS, PAYMENT_REQUIRED, settings)
    if not rows:
        raise DomainError("文件中没有数据（表头下面是空的）。")
    members, errors = _import_members(rows, committee)
    books = _books_of(list({m.id: m for m in members.values()}.values()))
    taken: dict[int, set[date]] = {}
    checked: list[_PaymentRow] = []
    bad_rows = {e.row_number for e in errors}
    for n, values in rows:
        problems: list[str] = []
        fen = None
        try:
            fen = yuan_to_fen(values["amount"], max_fen=settings["dues"]["max_payment_fen"])
        except MoneyError as exc:
            problems.append(exc.message)
        kind = re.sub(r"\s", "", values.get("kind", ""))
        if kind not in VOLUNTARY_WORDS and kind not in DUES_WORDS:
            problems.append(f"类型“{values['kind']}”无法识别，可填：党费、自愿（留空为党费）")
        voluntary = kind in VOLUNTARY_WORDS
        months = None
        try:
            months = _import_months(values.get("months", ""), now, tz)
        except DomainError as exc:
            problems.append(exc.message)
        if voluntary and months:
            problems.append("自愿交纳不对应月份，请把月份留空")
        plan: list[tuple[date, int]] = []
        member = members.get(normalize_phone(values.get("phone", "")))
        if not problems and n not in bad_rows and member is not None and fen is not None:
            try:
                if voluntary:
                    _party_member(member)
                    if fen <= 0:
                        raise MoneyError("金额应大于 0")
                else:
                    mine = taken.setdefault(member.id, set())
                    plan = plan_payment(
                        books[member.id],
                        member,
                        fen,
                        months,
                        now=now,
                        settings=settings,
                        taken=mine,
                    )
                    mine.update(m for m, _ in plan)
            except DomainError as exc:
                problems.append(exc.message)
        for problem in problems:
            errors.append(row_error(n, problem))
        if not problems and member is not None and fen is not None and n not in bad_rows:
            checked.append(
                _PaymentRow(n, member, fen, voluntary, plan, values.get("note", "")[:200])
            )
    if errors:
        errors.sort(key=lambda e: e.row_number)
        raise DuesImportError(errors)
    return checked


def import_payments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None = None,
    actor: Member | None = None,
    now: datetime,
    settings: Settings,
) -> ImportResult:
    """Check a whole payments file, then record every row in one transaction; any error, none."""
    checked = check_payments(path, committee=committee, now=now, settings=settings)
    _require_collector_of(actor, {row.member.branch_id for row in checked})
    source = "import"
    try:
        with write_tx():
            for row in checked:
                if row.voluntary:
                    record_voluntary(
                        actor,
                        row.member,
                        row.amount_fen,
                        now=now,
                        settings=settings,
                        source=source,
                        note=row.note,
                    )
                else:
                    _insert_payment(
                        actor, row.member, row.plan, source=source, now=now, note=row.note
                    )
    except IntegrityError:
        raise DomainError(
            "导入期间有人登记了文件中的某些月份，未导入任何数据。请发送“党费 情况”核对后重新导入。"
        ) from None
    result = ImportResult(
        payments=sum(not r.voluntary for r in checked),
        months=sum(len(r.plan) for r in checked),
        voluntary=sum(r.voluntary for r in checked),
        total_fen=sum(r.amount_fen for r in checked),
    )
    log.info("dues import: %d payments, %d voluntary", result.payments, result.voluntary)
    return result


def import_assessments(
    path: str | os.PathLike[str],
    *,
    committee: Committee | None = None,
    actor: Member | None = None,
    now: datetime,
    settings: Settings,
) -> int:
    """Check a whole file of categories and bases, then record every row; any error, none."""
    tz = ZoneInfo(settings["app"]["timezone"])
    rows = _read_table(
        path, ASSESSMENT_COLUMNS, ASSESSMENT_LABELS, ASSESSMENT_REQUIRED, settings
    )
    if not rows:
        raise DomainError("文件中没有数据（表头下面是空的）。")
    members, errors = _import_members(rows, committee)
    bad_rows = {e.row_number for e in errors}
    current = this_month(now, tz)
    checked = []
    for n, values in rows:
        problems = []
        category = category_of(values.get("category", ""))
        if category is None:
            problems.append(
                f"党费类别“{values.get('category', '')}”无法识别，可填：{CATEGORY_CHOICES}"
            )
        amounts: dict[str, int | None] = {"base": None, "fixed": None}
        for key in amounts:
            text = values.get(key, "").strip()
            if text:
                try:
                    amounts[key] = yuan_to_fen(text, what=ASSESSMENT_LABELS[key])
                except MoneyError as exc:
                    problems.append(exc.message)
        from_month = current
        if values.get("from_month", "").strip():
            try:
                found = _import_months(values["from_month"], now, tz)
                from_month = found[0] if found else current
            except DomainError as exc:
                problems.append(exc.message)
        member = members.get(normalize_phone(values.get("phone", "")))
        approved_by = values.get("approved_by", "")
        if not problems and category is not None and member is not None:
            try:
                check_assessment(
                    member.name,
                    category,
                    amounts["base"],
                    amounts["fixed"],
                    from_month,
                    approved_by,
                    now,
                    settings,
                )
            except DomainError as exc:
                problems.append(exc.message)
        errors.extend(row_error(n, p) for p in problems)
        if not problems and n not in bad_rows and member is not None and category is not None:
            checked.append((member, category, amounts, from_month, approved_by))
    if errors:
        errors.sort(key=lambda e: e.row_number)
        raise DuesImportError(errors)
    _require_collector_of(actor, {member.branch_id for member, *_ in checked})
    with write_tx():
        for member, category, amounts, from_month, approved_by in checked:
            DuesAssessment.create(
                member=member.id,
                from_month=from_month,
                category=category,
                base_fen=amounts["base"] if category in BASED_CATEGORIES else None,
                fixed_fen=amounts["fixed"] if category == "farmer" else None,
                approved_by=approved_by.strip()[:100],
                recorded_by=actor.id if actor else None,
                recorded_at=now,
            )
    log.info("dues categories imported for %d members", len(checked))
    return len(checked)
