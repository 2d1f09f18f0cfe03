"""The dues ledger (党费收缴明细) of a month or a year, as an Excel workbook.

One row per ledger entry recorded in the period (by its date in the app's time zone): the
member, the branch, the entry's kind, the member's category and base, the amount due a month,
the months paid, the amount (yuan with 2 decimals, from integer fen), the date, who recorded it
and the note. A reversal is its own row, with a negative amount, right after the entry it
reverses when that entry is in the period. Totals rows close the sheet. The workbook's times
are the period's first day, so the same records give the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import IO, Any
from zoneinfo import ZoneInfo

from core.clock import UTC, local_day
from core.config import Settings
from core.tabular import Sheet, write_workbook
from handlers.dues import BASED_CATEGORIES, assessment_histories
from handlers.dues.book import assessment_in_effect
from handlers.errors import Invalid
from handlers.privacy.reads import note_file_read
from handlers.reports.month import report_scope
from handlers.reports.xlsx import MONEY, yuan
from handlers.study.plans import plan_scope
from models.dues import CATEGORIES, PAYMENT_KINDS, PAYMENT_SOURCES, DuesMonth, DuesPayment
from models.org import Branch, Member

LEDGER_HEADER = (
    "编号",
    "姓名",
    "支部",
    "类型",
    "党费类别",
    "工资基数（元）",
    "月应交（元）",
    "交纳月份",
    "金额（元）",
    "日期",
    "收缴人",
    "备注",
)
DAY = "yyyy-mm-dd"


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger entry as the sheet shows it; money in fen."""

    id: int
    member: str
    branch: str
    kind: str  # the label, with the number of the entry a reversal reverses
    code: str  # dues | voluntary | reversal
    category: str
    base_fen: int | None
    monthly_fen: list[int]  # the distinct amounts due a month of the months paid
    months: list[date]
    amount_fen: int
    day: date
    collector: str
    note: str


@dataclass(frozen=True)
class Ledger:
    """The entries of a branch's or a committee's period, in order."""

    scope: str
    name: str
    year: int
    month: int | None  # None: the whole year
    entries: list[LedgerEntry]

    @property
    def period(self) -> str:
        return f"{self.year}年{self.month}月" if self.month else f"{self.year}年"

    @property
    def filename(self) -> str:
        """第一党支部2026年11月党费收缴明细.xlsx"""
        return f"{self.name}{self.period}党费收缴明细.xlsx"

    @property
    def ascii_filename(self) -> str:
        """ledger-2026-11.xlsx or ledger-2026.xlsx, for clients without UTF-8 file names."""
        month = f"-{self.month:02d}" if self.month else ""
        return f"ledger-{self.year}{month}.xlsx"


def _bounds(year: int, month: int | None, tz: ZoneInfo) -> tuple[datetime, datetime]:
    first = date(year, month or 1, 1)
    if month is None or month == 12:
        after = date(year + 1, 1, 1)
    else:
        after = date(year, month + 1, 1)
    start, end = (datetime.combine(d, time(), tzinfo=tz).astimezone(UTC) for d in (first, after))
    return start, end


def _months_of(payment_ids: Iterable[int]) -> dict[int, list[Any]]:
    found: dict[int, list[Any]] = {}
    query = (
        DuesMonth.select(DuesMonth.payment, DuesMonth.month, DuesMonth.amount_fen)
        .where(DuesMonth.payment.in_(sorted(set(payment_ids))))
        .order_by(DuesMonth.month)
        .namedtuples()
    )
    for row in query:
        found.setdefault(row.payment, []).append(row)
    return found


def _ordered(payments: list[Any]) -> list[Any]:
    """By date, each reversal right after the entry it reverses when that one is listed."""
    by_id = {p.id: p for p in payments}

    def key(p: Any) -> tuple[datetime, int, int]:
        anchor = by_id.get(p.reverses_id, p) if p.reverses_id else p
        return (anchor.recorded_at, anchor.id, p.id)

    return sorted(payments, key=key)


def _payments(branch_ids: list[int], start: datetime, end: datetime) -> list[Any]:
    return list(
        DuesPayment.select(
            DuesPayment, Member.name.alias("member_name"), Branch.name.alias("branch_name")
        )
        .join(Member, on=DuesPayment.member == Member.id)
        .join(Branch, on=Member.branch == Branch.id)
        .where(
            Member.branch.in_(branch_ids),
            DuesPayment.recorded_at >= start,
            DuesPayment.recorded_at < end,
        )
        .objects()
    )


def _kind(p: Any) -> str:
    label = PAYMENT_KINDS.get(p.kind, p.kind)
    return f"{label}（冲销第{p.reverses_id}号）" if p.reverses_id else label


def _entries(payments: list[Any], tz: ZoneInfo) -> list[LedgerEntry]:
    ordered = _ordered(payments)
    months = _months_of([p.reverses_id or p.id for p in ordered])
    histories = assessment_histories(p.member_id for p in ordered)
    ids = {p.recorded_by_id for p in ordered if p.recorded_by_id}
    names = {m.id: m.name for m in Member.select(Member.id, Member.name).where(Member.id.in_(ids))}
    out = []
    for p in ordered:
        paid = months.get(p.reverses_id or p.id, [])
        day = local_day(p.recorded_at, tz)
        at = paid[0].month if paid else day.replace(day=1)
        assessment = assessment_in_effect(histories.get(p.member_id, []), at)
        category = assessment.category if assessment else ""
        out.append(
            LedgerEntry(
                id=p.id,
                member=p.member_name,
                branch=p.branch_name,
                kind=_kind(p),
                code=p.kind,
                category=CATEGORIES.get(category, category),
                base_fen=assessment.base_fen if category in BASED_CATEGORIES else None,
                monthly_fen=sorted({m.amount_fen for m in paid}),
                months=[m.month for m in paid],
                amount_fen=p.amount_fen,
                day=day,
                collector=names.get(p.recorded_by_id) or PAYMENT_SOURCES.get(p.source, ""),
                note=p.note,
            )
        )
    return out


def ledger(
    actor: Member | None,
    year: int,
    month: int | None = None,
    *,
    branch_id: int | None = None,
    committee_id: int | None = None,
    settings: Settings,
    now: datetime,
) -> Ledger:
    """The ledger of one branch (``branch_id``, default the actor's) or of a committee
    (``committee_id``) for a month, or for a year when ``month`` is None; noted in the read
    log with the members it names (payers and collectors)."""
    tz = ZoneInfo(settings.app.timezone)
    start, end = _bounds(year, month, tz)
    if start > now:
        what = f"{year}年{month}月" if month else f"{year}年"
        raise Invalid(f"{what}还没有到，没有党费收缴明细。", errcode="invalid_period")
    scope, name, scope_id, branches = report_scope(actor, branch_id, committee_id)
    payments = _payments([b.id for b in branches], start, end)
    report = Ledger(scope, name, year, month, _entries(payments, tz))
    named = {p.member_id for p in payments} | {p.recorded_by_id for p in payments}
    named.discard(None)
    subject = f"{name}{report.period}党费收缴明细"
    note_file_read(
        actor, "ledger", subject=subject, scope=scope, scope_id=scope_id, named=named, now=now
    )
    return report


def ledger_named(
    year: int,
    month: int | None,
    *,
    committee_name: str | None,
    branch_name: str | None,
    settings: Settings,
    now: datetime,
) -> Ledger:
    """The operator's ledger by name: a branch (within --committee if given), a committee, or
    the only committee there is."""
    scope = plan_scope(committee_name=committee_name, branch_name=branch_name)
    return ledger(
        None,
        year,
        month,
        branch_id=scope.branch_id,
        committee_id=scope.committee_id,
        settings=settings,
        now=now,
    )


# ---- writing ------------------------------------------------------------------------------


def months_text(months: Sequence[date]) -> str:
    """Months as runs: 2026年1月—2026年3月、2026年5月."""
    runs: list[list[date]] = []
    for m in months:
        last = runs[-1][-1] if runs else None
        if last and (m.year * 12 + m.month) - (last.year * 12 + last.month) == 1:
            runs[-1].append(m)
        else:
            runs.append([m])
    text = [f"{r[0].year}年{r[0].month}月" for r in runs]
    for index, run in enumerate(runs):
        if len(run) > 1:
            text[index] += f"—{run[-1].year}年{run[-1].month}月"
    return "、".join(text)


def _row(e: LedgerEntry) -> list[Any]:
    monthly: Any = None
    if len(e.monthly_fen) == 1:
        monthly = yuan(e.monthly_fen[0])
    elif e.monthly_fen:
        monthly = "、".join(str(yuan(fen)) for fen in e.monthly_fen)
    base = yuan(e.base_fen) if e.base_fen is not None else None
    return [e.id, e.member, e.branch, e.kind, e.category, base, monthly]


def _full_row(e: LedgerEntry) -> list[Any]:
    rest = [months_text(e.months), yuan(e.amount_fen), e.day, e.collector, e.note]
    return _row(e) + rest


def _totals(entries: list[LedgerEntry]) -> list[list[Any]]:
    def line(label: str, chosen: list[LedgerEntry]) -> list[Any]:
        total = yuan(sum(e.amount_fen for e in chosen))
        return [label, "", "", f"{len(chosen)}笔", "", None, None, "", total, None, "", ""]

    rows = [line("合计", entries)]
    for kind, label in PAYMENT_KINDS.items():
        chosen = [e for e in entries if e.code == kind]
        if chosen:
            rows.append(line(f"其中：{label}", chosen))
    return rows


def write_ledger(report: Ledger, target: IO[bytes]) -> None:
    """Write the ledger's workbook (one sheet, A4 landscape, frozen header) to a binary file."""
    sheet = Sheet(
        "党费收缴明细",
        LEDGER_HEADER,
        [_full_row(e) for e in report.entries],
        widths=[8, 12, 20, 18, 14, 14, 12, 26, 12, 12, 12, 30],
        formats={5: MONEY, 6: MONEY, 8: MONEY, 9: DAY},
        totals=_totals(report.entries),
        landscape=True,
    )
    write_workbook(target, [sheet], created=datetime(report.year, report.month or 1, 1))


def ledger_bytes(report: Ledger) -> bytes:
    """The ledger's workbook as bytes (a download)."""
    out = io.BytesIO()
    write_ledger(report, out)
    return out.getvalue()
