"""A member's category and base (DuesAssessment) and hardship relief (DuesRelief)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from handlers.dues.access import require_collector, require_party_member
from handlers.dues.book import assessment_in_effect
from handlers.dues.money import MoneyError, Settings, fen_to_text, monthly_amount
from handlers.dues.months import add_months, month_label, months_text, this_month
from handlers.dues.trail import record_dues
from handlers.errors import DomainError
from handlers.sheets import (
    chunks,
)
from models.base import db
from models.dues import (
    BASED_CATEGORIES,
    CATEGORIES,
    DuesAssessment,
    DuesRelief,
)
from models.org import Branch, Member

log = logging.getLogger(__name__)


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
        _record_assessment(actor, member, row, now)
    log.info("dues category %s set for member %s from %s", category, member.id, from_month)
    return row


def _record_assessment(
    actor: Member | None, member: Member, row: DuesAssessment, now: datetime
) -> None:
    base = f" 基数 {fen_to_text(row.base_fen)}" if row.base_fen is not None else ""
    fixed = f" 每月 {fen_to_text(row.fixed_fen)}" if row.fixed_fen is not None else ""
    record_dues(
        actor,
        "dues.assessment",
        f"核定党费：{member.name} {row.category_label}{base}{fixed}，"
        f"{month_label(row.from_month)}起",
        member,
        target=f"member:{member.id}",
        now=now,
        after={
            "category": row.category,
            "base_fen": row.base_fen,
            "fixed_fen": row.fixed_fen,
            "from_month": row.from_month,
            "approved_by": row.approved_by,
        },
    )


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
    cfg = settings.dues
    tz = ZoneInfo(settings.app.timezone)
    if category not in CATEGORIES:
        raise DomainError("党费类别不对，可选：" + "、".join(CATEGORIES.values()))
    if category in BASED_CATEGORIES:
        label = "税后月工资" if category == "in_service" else "月离退休费"
        if base_fen is None:
            raise DomainError(
                f"请写明{name}的{label}（税后，单位元），例如：党费 设置 {name} "
                f"{CATEGORIES[category][:2]} 8000.00"
            )
        if base_fen > cfg.max_base_fen:
            raise DomainError(
                f"{label} {fen_to_text(base_fen)} 超过上限 {fen_to_text(cfg.max_base_fen)}，"
                "请核对是否多写了数字。"
            )
        if monthly_amount(category, base_fen, None, settings) <= 0:
            raise DomainError(
                f"{label} {fen_to_text(base_fen)} 算出的党费不足 1 分，请核对；"
                "没有收入的党员请设为“学生/失业/低保”类别（每月 "
                f"{fen_to_text(cfg.student_fen)}）。"
            )
    if category == "farmer":
        low, high = cfg.farmer_min_fen, cfg.farmer_max_fen
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
    latest = add_months(this_month(now, tz), cfg.prepay_max_months)
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
    current = assessment_in_effect(history, item.from_month)
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
    require_party_member(member)
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
        if amount_fen > settings.dues.max_payment_fen:
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
        words = {"reduce": "减交", "exempt": "免交", "cancel": "取消减免"}[kind]
        amount = f" 每月 {fen_to_text(amount_fen)}" if row.amount_fen is not None else ""
        record_dues(
            actor,
            "dues.relief",
            f"减免党费：{member.name} {words}{amount} {months_text(months)}",
            member,
            target=f"member:{member.id}",
            now=now,
            after={
                "kind": kind,
                "amount_fen": row.amount_fen,
                "from_month": row.from_month,
                "until_month": row.until_month,
                "approved_by": row.approved_by,
                "reason": row.reason,
            },
        )
    log.info("dues relief %s for member %s, %s..%s", kind, member.id, months[0], months[-1])
    return row
