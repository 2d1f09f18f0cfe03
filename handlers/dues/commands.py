"""The dues use cases in the words a collector types to the bot or an operator gives the CLI:
a member named, amounts and months as text, a committee by name. Each reads its words in the
order the refusals are given (who may act, whom, what, which months) and calls one use case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from handlers.dues.access import PAY_EXAMPLE, SET_EXAMPLE, find_member, require_collector
from handlers.dues.bases import set_assessment, set_relief
from handlers.dues.imports import (
    CATEGORY_WORDS,
    VOLUNTARY_WORDS,
    ImportResult,
    import_assessments,
    import_payments,
)
from handlers.dues.lapse import LapseAlert, lapse_alerts
from handlers.dues.money import Settings, monthly_amount, yuan_to_fen
from handlers.dues.months import parse_months, parse_one_month, this_month
from handlers.dues.payments import (
    Recorded,
    goes_up_whole,
    record_payment,
    record_voluntary,
    reverse_payment,
)
from handlers.dues.planning import describe_entry
from handlers.dues.views import BranchDues, BranchMonthSummary, branch_dues, branch_month_summary
from handlers.errors import DomainError
from models.dues import BASED_CATEGORIES, DuesAssessment, DuesPayment, DuesRelief
from models.org import Branch, Committee, Member

SET_USAGE = (
    "例如：党费 设置 张三 在职 8000.00 2026年1月（离退休填离退休费；"
    "农民：党费 设置 张三 农民 0.50；学生、失业、低保：党费 设置 张三 低保；"
    "免交：党费 设置 张三 免交 批准 某某党委）。不写月份为本月起。"
)
RELIEF_USAGE = (
    "例如：党费 减免 张三 减交 5.00 2026年1-12月 批准 某某党委 家庭困难；"
    "或：党费 减免 张三 免交 2026年1-12月 批准 某某党委；"
    "取消：党费 减免 张三 取消 2026年7-12月"
)
RELIEF_WORDS = {
    "减交": "reduce",
    "减缴": "reduce",
    "减免": "reduce",
    "免交": "exempt",
    "免缴": "exempt",
    "取消": "cancel",
    "取消减免": "cancel",
}
RELIEF_EXAMPLE = "党费 减免 张三 免交 2026年1-12月 批准 某某党委"


def _collector_branch(actor: Member) -> Branch:
    """The actor's own branch, which they must collect dues for."""
    branch = Branch.get_by_id(actor.branch_id)
    require_collector(actor, branch)
    return branch


def branch_status(
    actor: Member, month_text: str, *, now: datetime, settings: Settings
) -> BranchDues:
    """党费 情况 [月份]: the actor's branch for a month (this month without one)."""
    branch = _collector_branch(actor)
    tz = ZoneInfo(settings.app.timezone)
    month = this_month(now, tz)
    if month_text:
        month = parse_one_month(month_text, now=now, tz=tz)
    return branch_dues(actor, branch, month, now=now, settings=settings)


@dataclass(frozen=True)
class Collection:
    """收党费 done: dues for months (recorded), or a voluntary payment (voluntary)."""

    member: Member
    amount_fen: int
    recorded: Recorded | None = None
    voluntary: DuesPayment | None = None
    goes_up_whole: bool = False


def collect_named(
    actor: Member, who: str, amount: str, rest: list[str], *, now: datetime, settings: Settings
) -> Collection:
    """收党费 姓名 金额 [月份 | 自愿 备注]."""
    member = find_member(_collector_branch(actor), who, PAY_EXAMPLE)
    fen = yuan_to_fen(amount, max_fen=settings.dues.max_payment_fen)
    if rest and rest[0] in VOLUNTARY_WORDS:
        payment = record_voluntary(
            actor, member, fen, now=now, settings=settings, note=" ".join(rest[1:])
        )
        return Collection(
            member, fen, voluntary=payment, goes_up_whole=goes_up_whole(payment, settings)
        )
    tz = ZoneInfo(settings.app.timezone)
    months = parse_months(" ".join(rest), now=now, tz=tz) if rest else None
    recorded = record_payment(actor, member, fen, months, now=now, settings=settings)
    return Collection(member, fen, recorded=recorded)


@dataclass(frozen=True)
class Reversal:
    """更正党费 done: the reversal, the entry it cancels (described), its member and months."""

    entry: DuesPayment
    original: DuesPayment
    described: str
    member: Member
    months: list[date]


def reverse_entry(
    actor: Member, payment_id: int, reason: str, *, now: datetime, settings: Settings
) -> Reversal:
    """更正党费 编号 原因."""
    entry = reverse_payment(actor, payment_id, reason, now=now)
    original = DuesPayment.get_by_id(entry.reverses_id)
    months = [m.month for m in original.months]
    described = describe_entry(original, ZoneInfo(settings.app.timezone))
    return Reversal(entry, original, described, original.member, months)


@dataclass(frozen=True)
class CategorySet:
    member: Member
    row: DuesAssessment
    monthly_fen: int
    month: date


def set_category_named(
    actor: Member,
    who: str,
    category_word: str,
    money: list[str],
    month_text: str,
    approver: str,
    *,
    now: datetime,
    settings: Settings,
) -> CategorySet:
    """党费 设置 姓名 类别 [金额] [起始月份] [批准 某某]."""
    member = find_member(_collector_branch(actor), who, SET_EXAMPLE)
    category = CATEGORY_WORDS.get(category_word)
    if category is None:
        raise DomainError(f"没有识别出党费类别“{category_word}”。" + SET_USAGE)
    if len(money) > 1:
        raise DomainError(
            f"写了 {len(money)} 个金额（{'、'.join(money)}），请只写一个。" + SET_USAGE
        )
    fen = yuan_to_fen(money[0], what="金额") if money else None
    tz = ZoneInfo(settings.app.timezone)
    month = this_month(now, tz)
    if month_text:
        month = parse_one_month(month_text, now=now, tz=tz)
    row = set_assessment(
        actor,
        member,
        category,
        base_fen=fen if category in BASED_CATEGORIES else None,
        fixed_fen=fen if category == "farmer" else None,
        from_month=month,
        approved_by=approver,
        now=now,
        settings=settings,
    )
    amount = monthly_amount(row.category, row.base_fen, row.fixed_fen, settings)
    return CategorySet(member, row, amount, month)


@dataclass(frozen=True)
class ReliefSet:
    member: Member
    row: DuesRelief
    kind: str
    months: list[date]


def set_relief_named(
    actor: Member,
    who: str,
    kind_word: str,
    money: list[str],
    month_text: str,
    approver: str,
    reason: str,
    *,
    now: datetime,
    settings: Settings,
) -> ReliefSet:
    """党费 减免 姓名 减交 金额 | 免交 | 取消 月份 [批准 某某 原因]."""
    member = find_member(_collector_branch(actor), who, RELIEF_EXAMPLE)
    kind = RELIEF_WORDS.get(kind_word)
    if kind is None:
        raise DomainError(
            f"没有识别出减免方式“{kind_word}”，可选：减交、免交、取消。" + RELIEF_USAGE
        )
    fen = yuan_to_fen(money[0], what="减交后每月金额") if money else None
    if not month_text:
        raise DomainError("请写明减免的月份（到哪个月为止）。" + RELIEF_USAGE)
    months = parse_months(month_text, now=now, tz=ZoneInfo(settings.app.timezone))
    row = set_relief(
        actor,
        member,
        kind,
        months,
        amount_fen=fen,
        approved_by=approver,
        reason=reason,
        now=now,
        settings=settings,
    )
    return ReliefSet(member, row, kind, months)


class UnknownCommittee(DomainError):
    """The operator named a committee that does not exist; the message lists those that do."""

    errcode = "unknown_committee"


def committee_named(name: str | None) -> Committee | None:
    """The committee of that name, None for none named; refuse an unknown name."""
    if name is None:
        return None
    committee = Committee.get_or_none(Committee.name == name.strip())
    if committee is None:
        names = "、".join(c.name for c in Committee.select().order_by(Committee.name)) or "（无）"
        raise UnknownCommittee(f"没有名为“{name}”的党委。现有党委：{names}")
    return committee


def import_payments_file(
    path: str, committee: str | None, *, now: datetime, settings: Settings
) -> ImportResult:
    """`dues import`: a payments file, limited to a committee's members when one is named."""
    return import_payments(path, committee=committee_named(committee), now=now, settings=settings)


def import_assessments_file(
    path: str, committee: str | None, *, now: datetime, settings: Settings
) -> int:
    """`dues bases`: a file of categories and bases, limited to a committee when one is named."""
    return import_assessments(
        path, committee=committee_named(committee), now=now, settings=settings
    )


def summary_named(
    month_text: str, committee: str | None, *, now: datetime, settings: Settings
) -> tuple[date, list[BranchMonthSummary]]:
    """`dues summary`: the month named and every branch's (or a committee's) summary of it."""
    month = parse_one_month(month_text, now=now, tz=ZoneInfo(settings.app.timezone))
    found = committee_named(committee)
    rows = branch_month_summary(month, settings, committee_id=found.id if found else None)
    return month, rows


def alerts_named(committee: str | None, *, now: datetime, settings: Settings) -> list[LapseAlert]:
    """`dues alerts`: the six-month rule's alerts, everyone's or a committee's."""
    found = committee_named(committee)
    return lapse_alerts(now, settings, committee_id=found.id if found else None)
