"""Lost contact (失联): party members with no interaction for the configured span, and whether
the secretary's follow-up (models.organization.ContactOutcome) has handled each case for now."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta

from peewee import Expression, fn

from core.config import Settings
from models.dues import DuesPayment
from models.meetings import Attendance, Meeting
from models.org import PARTY_MEMBER_STATUSES, Member
from models.organization import OUTCOMES, ContactOutcome


def out_of_touch(now: datetime, settings: Settings) -> Expression:
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
    query = Member.select().where(out_of_touch(now, settings))
    out: dict[int, list[Member]] = defaultdict(list)
    for member in query.order_by(Member.id):
        out[member.branch_id].append(member)
    return out


def lost_contact_people(
    now: datetime, settings: Settings, scope: Expression | None = None
) -> dict[int, list[tuple[int, str]]]:
    """lost_contact's (id, name) pairs only, for the digest (no Member objects for thousands of
    rows); ``scope``: a further condition on Member."""
    cond = out_of_touch(now, settings)
    if scope is not None:
        cond = cond & scope
    query = Member.select(Member.branch, Member.id, Member.name).where(cond)
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for branch_id, member_id, name in query.order_by(Member.id).tuples():
        out[branch_id].append((member_id, name))
    return out


# ---- the follow-up: handled cases ------------------------------------------------------------


def reopen_days(outcome: str, settings: Settings) -> int:
    """Days after an outcome when a member still out of touch is a case again: 联系上 counts
    as contact on its day (alerts.lost_contact_days), the others [lost_contact]
    <outcome>_reopen_days."""
    if outcome == "reached":
        return settings.alerts.lost_contact_days
    return getattr(settings.lost_contact, f"{outcome}_reopen_days")


def reopens_on(outcome: ContactOutcome, settings: Settings) -> date:
    """The day the case of this outcome's member opens again if they are still out of touch."""
    return outcome.happened_on + timedelta(days=reopen_days(outcome.outcome, settings))


def latest_outcomes(
    today: date, settings: Settings, scope: Expression | None = None
) -> dict[int, ContactOutcome]:
    """Each member's latest outcome, of members (``scope``: a condition on Member) whose latest
    outcome may still keep their case handled today; in one query.

    Only outcomes within the longest reopening span can, and any later outcome of the same
    member is within it too, so the latest of those is the member's latest.
    """
    longest = max(reopen_days(kind, settings) for kind in OUTCOMES)
    query = ContactOutcome.select(
        ContactOutcome.id,
        ContactOutcome.member,
        ContactOutcome.outcome,
        ContactOutcome.happened_on,
    ).where(ContactOutcome.happened_on > today - timedelta(days=longest))
    if scope is not None:
        query = query.join(Member, on=ContactOutcome.member == Member.id).where(scope)
    latest: dict[int, ContactOutcome] = {}
    for row in query.order_by(ContactOutcome.happened_on, ContactOutcome.id):
        latest[row.member_id] = row  # later rows replace earlier ones
    return latest


def is_open(outcome: ContactOutcome | None, today: date, settings: Settings) -> bool:
    """Whether a member out of touch is an open case: no outcome recorded, or its span over."""
    return outcome is None or today >= reopens_on(outcome, settings)


def open_cases(
    people: dict[int, list[tuple[int, str]]],
    today: date,
    settings: Settings,
    scope: Expression | None = None,
) -> dict[int, list[tuple[int, str]]]:
    """Of lost_contact_people's answer (same ``scope``), the members whose case is open: the
    digest lists them until the secretary records an outcome (one more query)."""
    if not people:
        return {}
    latest = latest_outcomes(today, settings, scope)
    out = {}
    for branch_id, members in people.items():
        still = [p for p in members if is_open(latest.get(p[0]), today, settings)]
        if still:
            out[branch_id] = still
    return out
