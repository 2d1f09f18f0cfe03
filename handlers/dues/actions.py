"""The mini-program's dues use cases: each looks up what it acts on by id, checks that the
actor may see it, writes in one transaction that also notes the actor's activity, and returns
the rows with the details the API shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from handlers.binding import touch
from handlers.dues.entries import (
    Entries,
    Reports,
    entry_details,
    hidden,
    recent_entries,
    report_details,
    visible_member,
)
from handlers.dues.money import Settings
from handlers.dues.payments import goes_up_whole, record_payment, record_voluntary, reverse_payment
from handlers.dues.report import confirm_report_row, reject_report_row, report_payment
from handlers.dues.views import MemberDues, member_dues
from models.base import write_tx
from models.dues import DuesPayment, DuesReport
from models.org import Branch, Member


@dataclass(frozen=True)
class MyDues:
    """A member's own dues, their branch, their newest entries and their pending report."""

    view: MemberDues
    branch: Branch
    recent: Entries
    pending: Reports | None


def my_dues(member: Member, *, now: datetime, settings: Settings, recent: int) -> MyDues:
    """The member's dues as of now with their `recent` newest ledger entries."""
    view = member_dues(member, now=now, settings=settings)
    branch = member.branch
    entries = recent_entries(member, recent)
    pending = report_details([view.pending]) if view.pending else None
    return MyDues(view, branch, entries, pending)


def report_own_payment(
    member: Member,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> tuple[Reports, list[tuple[date, int]]]:
    """交党费 from the mini-program: the report and the months it covers."""
    with write_tx():
        report, plan = report_payment(
            member, amount_fen, months, now=now, settings=settings, note=note
        )
        touch(member, now)
    return report_details([report]), plan


def _visible_report(actor: Member, report_id: int) -> DuesReport:
    report = DuesReport.get_or_none(DuesReport.id == report_id)
    if report is None:
        raise hidden()
    visible_member(actor, report.member_id)
    return report


def confirm_report_id(
    actor: Member, report_id: int, *, now: datetime, settings: Settings
) -> tuple[Reports, Entries]:
    """确认党费 by id: the report, now confirmed, and the ledger entry it became."""
    report = _visible_report(actor, report_id)
    with write_tx():
        _, recorded = confirm_report_row(actor, report, now=now, settings=settings)
        touch(actor, now)
    return report_details([DuesReport.get_by_id(report.id)]), entry_details([recorded.payment])


def reject_report_id(actor: Member, report_id: int, reason: str, *, now: datetime) -> Reports:
    """退回党费 by id: the report, sent back."""
    report = _visible_report(actor, report_id)
    with write_tx():
        decided = reject_report_row(actor, report, reason, now=now)
        touch(actor, now)
    return report_details([decided])


@dataclass(frozen=True)
class Collected:
    entry: Entries
    goes_up_whole: bool


def collect(
    actor: Member,
    member_id: int,
    kind: str,
    amount_fen: int,
    months: list[date] | None,
    *,
    now: datetime,
    settings: Settings,
    note: str = "",
) -> Collected:
    """收党费 by member id: dues for months (or the oldest unpaid), or a voluntary payment."""
    target = visible_member(actor, member_id)
    with write_tx():
        if kind == "voluntary":
            payment = record_voluntary(
                actor, target, amount_fen, now=now, settings=settings, note=note
            )
        else:
            payment = record_payment(
                actor, target, amount_fen, months, now=now, settings=settings, note=note
            ).payment
        touch(actor, now)
    return Collected(entry_details([payment]), goes_up_whole(payment, settings))


def reverse_payment_id(actor: Member, payment_id: int, reason: str, *, now: datetime) -> Entries:
    """更正党费 by id: the reversal entry and the original, in this order."""
    original = DuesPayment.get_or_none(DuesPayment.id == payment_id)
    if original is None:
        raise hidden()
    visible_member(actor, original.member_id)
    with write_tx():
        entry = reverse_payment(actor, payment_id, reason, now=now)
        touch(actor, now)
    return entry_details([entry, DuesPayment.get_by_id(payment_id)])
