"""A member's own report of a payment (交党费), confirmed or sent back by a collector."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import IntegrityError

from core.clock import local_day
from handlers.dues.access import find_member, require_collector
from handlers.dues.loaders import load_book
from handlers.dues.money import Settings, fen_to_text
from handlers.dues.months import month_span
from handlers.dues.payments import Recorded, record_payment
from handlers.dues.planning import plan_payment
from handlers.dues.trail import amount_words, record_dues
from handlers.errors import Conflict, DomainError
from models.base import db
from models.dues import (
    REPORT_STATUSES,
    DuesReport,
)
from models.org import Branch, Member


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
    tz = ZoneInfo(settings.app.timezone)
    existing = pending_report(member)
    if existing is not None:
        raise Conflict(_pending_refusal(existing, tz), errcode="report_pending")
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
        raise Conflict(
            _pending_refusal(pending_report(member), tz), errcode="report_pending"
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
    return Conflict(
        f"{member.name}的这笔党费报告（{fen_to_text(report.amount_fen)}）{status}，无需重复处理。",
        errcode="report_decided",
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
            raise Conflict(
                f"{member.name}的这笔报告刚刚已被处理，无需重复确认。",
                errcode="report_decided",
            )
        record_dues(
            actor,
            "dues.report_confirm",
            f"确认缴费报告：{member.name} "
            + amount_words(report.amount_fen, [m for m, _ in recorded.months]),
            member,
            target=f"dues_report:{report.id}",
            now=now,
            before={"status": "pending"},
            after={
                "status": "confirmed",
                "payment_id": recorded.payment.id,
                "amount_fen": report.amount_fen,
            },
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
        raise Conflict(f"{member.name}的这笔报告刚刚已被处理。", errcode="report_decided")
    note = reason.strip()[:200]
    record_dues(
        actor,
        "dues.report_reject",
        f"退回缴费报告：{member.name} {amount_words(report.amount_fen)}"
        + (f"，原因：{note}" if note else ""),
        member,
        target=f"dues_report:{report.id}",
        now=now,
        before={"status": "pending"},
        after={"status": "rejected", "reason": note},
    )
    return DuesReport.get_by_id(report.id)
