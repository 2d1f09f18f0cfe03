"""The branch figures as the /api/v1 branch and committee routes answer them (JSON)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from api.common import day_text, iso, tz
from api.shapes.branch import ALERT_LIST_MAX, STATUS_RANK
from core.clock import local_day
from handlers.calendar import DUE, Requirement
from handlers.dues import BranchMonthSummary, LapseAlert, MemberOwing, fen_to_text
from handlers.overview import BranchFigures, People
from handlers.reminders import BranchAlerts, StudyRate
from models.development import STEPS
from models.org import ROLES, Member, mask_phone

# The dues figures of the committee's list (the overview has the member counts too).
HEADLINE_DUES = ("expected_fen", "expected_text", "collected_fen", "collected_text", "rate")


def rate_json(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


def member_ref(member_id: int, name: str) -> dict[str, Any]:
    return {"id": member_id, "name": name}


def study_json(rate: StudyRate | None, first: date, last: date) -> dict[str, Any]:
    rate = rate or StudyRate(0, 0, 0)
    return {
        "first": day_text(first),
        "last": day_text(last),
        "members": rate.members,
        "participants": rate.participants,
        "checkins": rate.checkins,
        "rate": rate_json(rate.rate),
    }


def meeting_kinds_json(reqs: list[Requirement]) -> list[dict[str, Any]]:
    """One entry per required kind: how many are required (per group for 党小组会) and held."""
    kinds: dict[str, list[Requirement]] = {}
    for req in reqs:
        kinds.setdefault(req.kind, []).append(req)
    out = []
    for kind, group in kinds.items():
        period = group[0].period
        planned = [r.next_planned for r in group if r.next_planned is not None]
        out.append(
            {
                "kind": kind,
                "kind_label": group[0].kind_label,
                "frequency": period.kind,
                "period": {
                    "label": period.label,
                    "start": day_text(period.start),
                    "end": day_text(period.end),
                },
                "required": len(group),
                "satisfied": sum(r.satisfied for r in group),
                "held": sum(r.held for r in group),
                "held_without_quorum": sum(r.held_without_quorum for r in group),
                "planned": sum(r.planned for r in group),
                "next_planned_at": iso(min(planned)) if planned else None,
                "due_by": None if all(r.satisfied for r in group) else day_text(period.end),
                "days_left": group[0].days_left,
                "status": min((r.status for r in group), key=STATUS_RANK.__getitem__),
                "overdue": any(r.status == "overdue" for r in group),
                "previous_missed": any(r.previous_missed for r in group),
            }
        )
    return out


def dues_json(summary: BranchMonthSummary | None, month: date) -> dict[str, Any]:
    expected = summary.expected_fen if summary else 0
    collected = summary.collected_fen if summary else 0
    return {
        "month": f"{month:%Y-%m}",
        "expected_fen": expected,
        "expected_text": fen_to_text(expected),
        "collected_fen": collected,
        "collected_text": fen_to_text(collected),
        "rate": rate_json(summary.rate) if summary else None,
        "members_due": summary.members_due if summary else 0,
        "members_paid": summary.members_paid if summary else 0,
        "members_exempt": summary.members_exempt if summary else 0,
        "members_unset": summary.members_unset if summary else 0,
    }


def _owing_json(owing: list[MemberOwing]) -> dict[str, Any]:
    """Members owing dues: the longest owing first."""
    return {
        "count": len(owing),
        "total_fen": sum(o.fen for o in owing),
        "total_text": fen_to_text(sum(o.fen for o in owing)),
        "members": [
            {
                **member_ref(o.member_id, o.name),
                "months": len(o.months),
                "fen": o.fen,
                "text": fen_to_text(o.fen),
            }
            for o in sorted(owing, key=lambda o: (-len(o.months), o.member_id))[:ALERT_LIST_MAX]
        ],
    }


def _lapse_json(lapse: list[LapseAlert]) -> dict[str, Any]:
    """The six-month rule's members, counted per level."""
    levels: dict[int, int] = {}
    for alert in lapse:
        levels[alert.level] = levels.get(alert.level, 0) + 1
    return {
        "count": len(lapse),
        "levels": [{"level": k, "count": levels[k]} for k in sorted(levels)],
        "members": [
            {
                **member_ref(a.member_id, a.member_name),
                "reason": a.reason,
                "reason_label": a.reason_label,
                "months": a.months,
                "at_least": a.at_least,
                "level": a.level,
                "since": f"{a.since:%Y-%m}",
            }
            for a in lapse[:ALERT_LIST_MAX]
        ],
    }


def alerts_json(
    alerts: BranchAlerts, settings: dict[str, Any], *, names: bool = True
) -> dict[str, Any]:
    """The secretary digest's items for one branch, as counts and short member lists (the
    people overdue in development only with ``names``: the branch's own managers)."""
    return {
        "count": alerts.count,
        "dues_owing": _owing_json(alerts.owing),
        "six_month_rule": _lapse_json(alerts.lapse),
        "lost_contact": {
            "count": len(alerts.lost_contact),
            "days": settings.alerts.lost_contact_days,
            "members": [member_ref(i, n) for i, n in alerts.lost_contact[:ALERT_LIST_MAX]],
        },
        "probation_ending": {
            "count": len(alerts.probation),
            "members": [
                {**member_ref(i, n), "ends_on": day_text(ends)}
                for i, n, ends in alerts.probation[:ALERT_LIST_MAX]
            ],
        },
        "meetings_due": {
            "count": len(alerts.meetings),
            "items": [
                {
                    "kind": r.kind,
                    "kind_label": r.kind_label,
                    "group": {"id": r.group_id, "name": r.group_name} if r.group_id else None,
                    "period_label": r.period.label,
                    "due_by": day_text(r.period.end),
                    "days_left": r.days_left,
                    "status": r.status,
                    "held_without_quorum": r.held_without_quorum,
                }
                for r in alerts.meetings
            ],
        },
        "dead_messages": alerts.dead,
        "study_plan_missing": alerts.no_study_plan,
        "rectification_overdue": {
            "count": len(alerts.rectification),
            "items": [
                {
                    "id": i.item_id,
                    "number": i.number,
                    "kind_label": i.kind_label,
                    "deadline": day_text(i.deadline),
                    "days_overdue": i.days,
                }
                for i in alerts.rectification[:ALERT_LIST_MAX]
            ],
        },
        "development_overdue": {
            "count": len(alerts.development),
            "items": [
                {
                    "member": member_ref(s.member_id, s.name),
                    "step": s.step,
                    "label": STEPS[s.step],
                    "since": day_text(s.since),
                    "due": day_text(s.due),
                    "days_overdue": s.days,
                }
                for s in (alerts.development[:ALERT_LIST_MAX] if names else [])
            ],
        },
    }


def member_item(m: Member) -> dict[str, Any]:
    group = m.party_group if m.party_group_id else None
    last = m.last_active_at
    return {
        "id": m.id,
        "name": m.name,
        "phone": mask_phone(m.phone),
        "status": m.status,
        "status_label": m.status_label,
        "roles": [{"code": r, "label": ROLES.get(r, r)} for r in sorted(m.role_set)],
        "group": {"id": group.id, "name": group.name} if group else None,
        "bound": bool(m.is_bound),
        "last_active_on": day_text(local_day(last, tz())) if last else None,
    }


def people_json(people: People, labels: list[str]) -> dict[str, Any]:
    """A branch's people in figures: 学时 together, age bands, admissions, volunteer service."""
    training, makeup, service = people.training, people.makeup, people.volunteer
    return {
        "training": {
            "members": training.members,
            "average_hours": training.average_hours,
            "below": training.below,
            "below_rate": rate_json(training.below_share),
        },
        "makeup": {
            "age_bands": [
                {"label": label, "members": n}
                for label, n in zip(labels, makeup.bands, strict=True)
            ]
            + [{"label": "未知", "members": makeup.unknown}],
            "admitted_this_year": makeup.admitted,
        },
        "volunteer": {
            "minutes": service.minutes,
            "hours": round(service.minutes / 60, 1),
            "people": service.people,
            "entries": service.entries,
        },
    }


def committee_item(
    figures: BranchFigures, month: date, people: People, labels: list[str]
) -> dict[str, Any]:
    """One branch of the committee list: the overview's headline figures, and its people in
    figures (never names)."""
    rate = figures.study
    return {
        **people_json(people, labels),
        "branch": {"id": figures.branch.id, "name": figures.branch.name},
        "study": {
            "members": rate.members,
            "participants": rate.participants,
            "rate": rate_json(rate.rate),
        },
        "meetings": meeting_totals(figures.meetings),
        "dues": {k: v for k, v in dues_json(figures.dues, month).items() if k in HEADLINE_DUES},
        "alert_count": figures.alerts.count,
    }


def meeting_totals(reqs: Iterable[Requirement]) -> dict[str, int]:
    reqs = list(reqs)
    return {
        "required": len(reqs),
        "satisfied": sum(r.satisfied for r in reqs),
        "held": sum(r.held for r in reqs),
        "due": sum(r.status in DUE for r in reqs),
        "overdue": sum(r.status == "overdue" for r in reqs),
    }
