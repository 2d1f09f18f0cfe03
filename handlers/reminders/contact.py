"""Lost contact: party members with no interaction for the configured span."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from peewee import Expression, fn

from core.config import Settings
from handlers.meetings import COMMITTEE_ROLES
from models.dues import DuesPayment
from models.meetings import Attendance, Meeting
from models.org import PARTY_MEMBER_STATUSES, Member


def _out_of_touch(now: datetime, settings: Settings) -> Expression:
    """Party members (in the system for the whole span) with no interaction in the span.

    Interactions (DOMAIN.md): the member's own messages and mini-program actions (check-ins,
    sign-ins, leave requests, reports: ``last_active_at``), being present at a meeting that
    started in the span (signed in by code or scan, or 补签 by a manager), and a dues payment
    booked for them in the span (by a collector, a confirmed report or an import; not a
    reversal, nor a payment since reversed). The other two are correlated EXISTS probes on
    the member's attendance and payment indexes, run only for members whose own activity is
    stale: one query however many members there are.
    """
    cutoff = now - timedelta(days=settings.alerts.lost_contact_days)
    attended = (
        Attendance.select(Attendance.id)
        .join(Meeting, on=Attendance.meeting == Meeting.id)
        .where(
            Attendance.member == Member.id,
            Attendance.status == "present",
            Meeting.starts_at >= cutoff,
        )
    )
    reversal = DuesPayment.alias("reversal")
    paid = DuesPayment.select(DuesPayment.id).where(
        DuesPayment.member == Member.id,
        DuesPayment.kind != "reversal",
        DuesPayment.recorded_at >= cutoff,
        ~fn.EXISTS(reversal.select(reversal.id).where(reversal.reverses == DuesPayment.id)),
    )
    return (
        Member.status.in_(PARTY_MEMBER_STATUSES)
        & (Member.created_at < cutoff)
        & (Member.last_active_at.is_null() | (Member.last_active_at < cutoff))
        & ~fn.EXISTS(attended)
        & ~fn.EXISTS(paid)
    )


def lost_contact(now: datetime, settings: Settings) -> dict[int, list[Member]]:
    """Party members with no interaction for the configured span, per branch."""
    query = Member.select().where(_out_of_touch(now, settings))
    out: dict[int, list[Member]] = defaultdict(list)
    for member in query.order_by(Member.id):
        out[member.branch_id].append(member)
    return out


def lost_contact_people(
    now: datetime, settings: Settings, scope: Expression | None = None
) -> dict[int, list[tuple[int, str]]]:
    """lost_contact's (id, name) pairs only, for the digest (no Member objects for thousands of
    rows); ``scope``: a further condition on Member."""
    cond = _out_of_touch(now, settings)
    if scope is not None:
        cond = cond & scope
    query = Member.select(Member.branch, Member.id, Member.name).where(cond)
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for branch_id, member_id, name in query.order_by(Member.id).tuples():
        out[branch_id].append((member_id, name))
    return out


def committee_members(branch_ids: list[int]) -> set[int]:
    """Ids of branch committee members, for checks that concern them."""
    return {
        m.id
        for m in Member.select().where(Member.branch.in_(branch_ids), Member.roles != "")
        if m.has_role(*COMMITTEE_ROLES)
    }
