"""What the scheduler says to whom: study prompts, nudges, summaries, meeting reminders, digests.

Each function returns the outbox rows (Outgoing) for every branch at once, in a constant number
of queries however many branches and members there are; the jobs only enqueue them. Keys
(kind, target, period) make a repeated run produce nothing new.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import reduce
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from peewee import Expression, fn

from core.clock import local_day
from core.config import Settings
from handlers.meetings import COMMITTEE_ROLES, describe, signin_window
from handlers.outbox import Outgoing
from models.dues import DuesPayment
from models.meetings import Attendance, Meeting, MeetingAttendee
from models.org import BRANCH_MANAGERS, PARTY_MEMBER_STATUSES, Branch, Member
from models.outbox import BranchChannel, OutboxMessage
from models.prepared import execute
from models.study import StudyCheckin, StudyTopic

if TYPE_CHECKING:  # imported when called: handlers.dues and handlers.calendar load late
    from handlers.calendar import Requirement
    from handlers.dues import LapseAlert, MemberOwing


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.app.timezone)


def is_workday(day: date, settings: Settings) -> bool:
    """Weekdays are workdays, except configured holidays; make-up Saturdays/Sundays count."""
    iso = day.isoformat()
    if iso in settings.study.makeup_workdays:
        return True
    if iso in settings.study.holidays:
        return False
    return day.weekday() < 5


def _channelled_branches(flag: str | None = None) -> list[Branch]:
    """Branches with a group channel (optionally only those with a flag turned on)."""
    query = Branch.select(Branch).join(BranchChannel, on=BranchChannel.branch == Branch.id)
    if flag is not None:
        query = query.where(getattr(BranchChannel, flag) == True)  # noqa: E712 - SQL
    return list(query.order_by(Branch.id))


# ---- study ----------------------------------------------------------------------------------


def study_prompts(now: datetime, settings: Settings) -> list[Outgoing]:
    """Today's topic to each branch group (workdays only; make-up workdays too)."""
    day = local_day(now, _tz(settings))
    if not is_workday(day, settings):
        return []
    branches = _channelled_branches()
    topics = list(StudyTopic.select().where(StudyTopic.day == day).order_by(StudyTopic.id.desc()))
    # The branch's own topic, else its committee's, else everyone's; the newest of each kind.
    own: dict[int, StudyTopic] = {}
    committees: dict[int, StudyTopic] = {}
    everyone = None
    for t in topics:
        if t.branch_id:
            own.setdefault(t.branch_id, t)
        elif t.committee_id:
            committees.setdefault(t.committee_id, t)
        elif everyone is None:
            everyone = t
    rows = []
    for branch in branches:
        topic = own.get(branch.id) or committees.get(branch.committee_id) or everyone
        if topic is None:
            continue
        lines = [f"【今日学习】《{topic.title}》"]
        if topic.content:
            lines.append(topic.content[:300])
        if topic.url:
            lines.append(topic.url)
        lines.append("学习后在公众号发送“学习 心得”打卡。")
        rows.append(
            Outgoing(
                "study_prompt",
                "branch",
                branch.id,
                day.isoformat(),
                {"text": "\n".join(lines), "title": "今日学习"},
                branch.id,
            )
        )
    return rows


def study_nudges(now: datetime, settings: Settings) -> list[Outgoing]:
    """An evening nudge to members who have not checked in today, where the branch wants it."""
    day = local_day(now, _tz(settings))
    if not is_workday(day, settings):
        return []
    branches = _channelled_branches("nudge_enabled")
    if not branches:
        return []
    done = StudyCheckin.select(StudyCheckin.member).where(StudyCheckin.day == day)
    members = (
        Member.select(Member.id, Member.name, Member.branch)
        .where(
            Member.branch.in_([b.id for b in branches]),
            Member.status.in_(PARTY_MEMBER_STATUSES),
            Member.id.not_in(done),
        )
        .order_by(Member.id)
        .tuples()
    )
    return [
        Outgoing(
            "study_nudge",
            "member",
            member_id,
            day.isoformat(),
            {
                "text": f"{name}同志，今天的学习还没有打卡。学习后发送“学习 心得”即可。",
                "title": "学习提醒",
            },
            branch_id,
        )
        for member_id, name, branch_id in members
    ]


def cancel_nudge(member: Member, day: date) -> int:
    """A member who checks in before the nudge went out does not get it."""
    values = {"member": member.id, "period": day.isoformat()}
    return execute(
        "study_nudge_cancel",
        lambda v: OutboxMessage.update(status="skipped", last_error="已打卡，无需提醒").where(
            OutboxMessage.kind == "study_nudge",
            OutboxMessage.target_type == "member",
            OutboxMessage.target_id == v["member"],
            OutboxMessage.period == v["period"],
            OutboxMessage.status == "pending",
        ),
        values,
    ).rowcount


@dataclass(frozen=True)
class StudyRate:
    """How many of a branch's party members checked in over some days: a rate, not a ranking."""

    members: int
    participants: int
    checkins: int

    @property
    def rate(self) -> float | None:
        """Participants / members; None for a branch without party members."""
        return self.participants / self.members if self.members else None


def study_participation(first: date, last: date, branches: Expression) -> dict[int, StudyRate]:
    """Party members and those who checked in from first to last (inclusive), per branch.

    ``branches`` is a condition on ``Member.branch`` (``Member.branch.in_(ids)``, ...); branches
    without party members are absent. 2 queries, whatever the number of branches.
    """
    party = Member.status.in_(PARTY_MEMBER_STATUSES)
    members: dict[int, int] = dict(
        Member.select(Member.branch, fn.COUNT(Member.id))
        .where(branches, party)
        .group_by(Member.branch)
        .tuples()
    )
    studied: dict[int, tuple[int, int]] = {}
    for branch_id, people, checkins in (
        StudyCheckin.select(
            Member.branch, fn.COUNT(fn.DISTINCT(StudyCheckin.member)), fn.COUNT(StudyCheckin.id)
        )
        .join(Member)
        .where(branches, party, StudyCheckin.day.between(first, last))
        .group_by(Member.branch)
        .tuples()
    ):
        studied[branch_id] = (people, checkins)
    return {
        branch_id: StudyRate(total, *studied.get(branch_id, (0, 0)))
        for branch_id, total in members.items()
    }


def study_summaries(now: datetime, settings: Settings) -> list[Outgoing]:
    """The week's study rate per branch: how many took part, never who ranks where."""
    today = local_day(now, _tz(settings))
    start = today - timedelta(days=today.weekday())
    branches = _channelled_branches()
    ids = [b.id for b in branches]
    if not ids:
        return []
    rates = study_participation(start, today, Member.branch.in_(ids))
    rows = []
    for branch in branches:
        rate = rates.get(branch.id)
        if rate is None:
            continue
        text = (
            f"【本周学习小结】{branch.name}{start.month}月{start.day}日至{today.month}月"
            f"{today.day}日：{rate.members} 名党员中 {rate.participants} 人参加学习打卡，参与率 "
            f"{rate.participants / rate.members:.0%}，共打卡 {rate.checkins} 次。"
        )
        rows.append(
            Outgoing(
                "study_summary",
                "branch",
                branch.id,
                start.isoformat(),
                {"text": text, "title": "每周学习小结"},
                branch.id,
            )
        )
    return rows


# ---- meetings -------------------------------------------------------------------------------


def meeting_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """24 h and 1 h before each meeting, a reminder to its branch group naming who is expected."""
    tz = _tz(settings)
    meetings = list(
        Meeting.select()
        .where(
            Meeting.status == "scheduled",
            Meeting.starts_at > now,
            Meeting.starts_at <= now + timedelta(hours=24),
        )
        .order_by(Meeting.starts_at)
    )
    if not meetings:
        return []
    expected = _expected([m.id for m in meetings])
    rows = []
    for meeting in meetings:
        lead = meeting.starts_at - now
        label = "1h" if lead <= timedelta(hours=1) else "24h"
        when = "1小时后" if label == "1h" else "明天" if lead > timedelta(hours=12) else "今天"
        opens, _ = signin_window(meeting, settings)
        people = expected.get(meeting.id, [])
        text = (
            f"【会议提醒】{when}召开：{describe(meeting, tz)}\n"
            f"应到 {len(people)} 人。{opens.astimezone(tz):%H:%M} 起可签到，"
            "不能参加的请发送“请假 原因”。"
        )
        rows.append(
            Outgoing(
                "meeting_reminder",
                "branch",
                meeting.branch_id,
                f"{meeting.id}:{label}",
                {"text": text, "title": "会议提醒", "mention_member_ids": [p.id for p in people]},
                meeting.branch_id,
            )
        )
    return rows


def _expected(meeting_ids: list[int]) -> dict[int, list[Member]]:
    out: dict[int, list[Member]] = defaultdict(list)
    query = (
        MeetingAttendee.select(MeetingAttendee, Member)
        .join(Member)
        .where(MeetingAttendee.meeting.in_(meeting_ids))
        .order_by(Member.id)
    )
    for row in query:
        out[row.meeting_id].append(row.member)
    return out


def meeting_summaries(now: datetime, settings: Settings) -> list[Outgoing]:
    """After a meeting ends, present / on leave / absent to the branch secretary."""
    tz = _tz(settings)
    meetings = list(
        Meeting.select().where(
            Meeting.status == "scheduled",
            Meeting.ends_at <= now,
            Meeting.ends_at > now - timedelta(hours=24),
        )
    )
    if not meetings:
        return []
    ids = [m.id for m in meetings]
    expected = _expected(ids)
    marks = {
        (a.meeting_id, a.member_id): a
        for a in Attendance.select().where(Attendance.meeting.in_(ids))
    }
    secretaries = _manager_ids({m.branch_id for m in meetings})
    rows = []
    for meeting in meetings:
        secretary_id = secretaries.get(meeting.branch_id)
        if secretary_id is None:
            continue
        present, leave, absent = [], [], []
        for member in expected.get(meeting.id, []):
            mark = marks.get((meeting.id, member.id))
            if mark is not None and mark.status == "present":
                present.append(member.name)
            elif mark is not None and mark.leave_status == "approved":
                leave.append(member.name)
            else:
                absent.append(member.name)
        total = len(present) + len(leave) + len(absent)
        text = (
            f"【会议情况】{describe(meeting, tz)}\n应到 {total} 人，实到 {len(present)} 人\n"
            f"请假：{'、'.join(leave) or '无'}\n缺席：{'、'.join(absent) or '无'}"
        )
        rows.append(
            Outgoing(
                "meeting_summary",
                "member",
                secretary_id,
                str(meeting.id),
                {"text": text, "title": "会议情况"},
                meeting.branch_id,
            )
        )
    return rows


def _manager_ids(branch_ids: set[int] | None) -> dict[int, int]:
    """Who hears about a branch (of `branch_ids`, or every one: None): its secretary, else
    deputy, else organizer; their member ids by branch id."""
    found: dict[int, tuple[int, int]] = {}
    # Only people whose roles mention one of those can be one (a superset: LIKE '%…%').
    holds = reduce(operator.or_, (Member.roles.contains(role) for role in BRANCH_MANAGERS))
    query = Member.select(Member.id, Member.branch, Member.roles).where(holds)
    if branch_ids is not None:
        query = query.where(Member.branch.in_(list(branch_ids)))
    # Plain rows: Member objects for every manager of 2,000 branches cost more than the rest.
    for member_id, branch_id, roles in query.order_by(Member.id).tuples():
        held = set(roles.split(","))  # Member.role_set
        for rank, role in enumerate(BRANCH_MANAGERS):
            if role in held and (branch_id not in found or rank < found[branch_id][0]):
                found[branch_id] = (rank, member_id)
    return {branch_id: member_id for branch_id, (_, member_id) in found.items()}


# ---- volunteer service ----------------------------------------------------------------------


def volunteer_prompts(now: datetime, settings: Settings) -> list[Outgoing]:
    """Saturday's 扶贫日 / volunteer-service prompt, where the branch turned it on."""
    day = local_day(now, _tz(settings))
    return [
        Outgoing(
            "volunteer_prompt",
            "branch",
            b.id,
            day.isoformat(),
            {
                "text": "【周六扶贫日】今天是周六扶贫日，欢迎参加党员志愿服务，"
                "服务后请向支部报告服务时长。",
                "title": "志愿服务提醒",
            },
            b.id,
        )
        for b in _channelled_branches("volunteer_enabled")
    ]


# ---- the secretary's digest -----------------------------------------------------------------


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


def _lost_contact_people(
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


# ---- dues -----------------------------------------------------------------------------------


def dues_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    """The monthly dues reminder: the month's progress to each group, a note to each debtor."""
    from handlers.dues import gc_paused

    with gc_paused():  # tens of thousands of rows: the collector's passes are pure cost
        return _dues_reminders(now, settings)


def _dues_reminders(now: datetime, settings: Settings) -> list[Outgoing]:
    from handlers.dues import fen_to_text, month_summary_and_owing, months_text, this_month

    month = this_month(now, _tz(settings))
    period = f"{month:%Y-%m}"
    # _channelled_branches' ids, without 2,000 Branch objects
    channelled = {b for (b,) in BranchChannel.select(BranchChannel.branch).tuples()}
    # branch_month_summary(month) and all_owing(now), from one load of the members' dues
    summaries, all_owing = month_summary_and_owing(now, settings)
    rows = []
    for summary in summaries:
        if summary.branch_id not in channelled or not summary.members_due:
            continue
        text = (
            f"【党费提醒】{month.year}年{month.month}月党费请及时交纳。"
            f"本支部应交 {summary.members_due} 人，已交 {summary.members_paid} 人，"
            f"已收 {fen_to_text(summary.collected_fen)}，"
            f"应收 {fen_to_text(summary.expected_fen)}。"
            "交纳后可在公众号发送“交党费 金额”报告，由收缴员确认。"
        )
        rows.append(
            Outgoing(
                "dues_reminder",
                "branch",
                summary.branch_id,
                period,
                {"text": text, "title": "党费提醒"},
                summary.branch_id,
            )
        )
    shown: dict[tuple[date, ...], str] = {}  # months_text: most debtors owe the same few runs
    for owing in all_owing:
        months = tuple([m for m, _ in owing.months])
        if (listed := shown.get(months)) is None:
            listed = shown[months] = months_text(months)
        text = (
            f"{owing.name}同志，您有 {len(months)} 个月党费待交"
            f"（{listed}），共 {fen_to_text(owing.fen)}。"
            "请联系党费收缴员交纳，或交纳后发送“交党费 金额”。"
        )
        rows.append(
            Outgoing(
                "dues_personal",
                "member",
                owing.member_id,
                period,
                {"text": text, "title": "党费提醒"},
                owing.branch_id,
            )
        )
    return rows


# ---- the secretary's digest -----------------------------------------------------------------


def secretary_digests(now: datetime, settings: Settings) -> list[Outgoing]:
    """One digest per branch secretary, only when there is something to act on."""
    from handlers.dues import gc_paused

    with gc_paused():  # every party member is judged: the collector's passes are pure cost
        return _secretary_digests(now, settings)


@dataclass
class BranchAlerts:
    """What the secretary's digest lists for one branch, as data."""

    branch_id: int
    owing: list[MemberOwing] = field(default_factory=list)  # owe dues for some month
    meetings: list[Requirement] = field(default_factory=list)  # due soon or overdue
    lapse: list[LapseAlert] = field(default_factory=list)  # the six-month rule: 3, 5, 6+
    lost_contact: list[tuple[int, str]] = field(default_factory=list)  # (member id, name)
    probation: list[tuple[int, str, date]] = field(default_factory=list)  # (id, name, ends)
    dead: int = 0  # outbox rows that could not be delivered

    @property
    def count(self) -> int:
        """How many things to act on: people, requirements and undelivered messages."""
        return (
            len(self.owing)
            + len(self.meetings)
            + len(self.lapse)
            + len(self.lost_contact)
            + len(self.probation)
            + self.dead
        )


def secretary_alerts(
    now: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> dict[int, BranchAlerts]:
    """What the digest would list, per branch with something to act on (all branches, one
    committee's or one branch's), in a constant number of queries."""
    from handlers.dues import gc_paused

    with gc_paused():  # every party member is judged: the collector's passes are pure cost
        return _secretary_alerts(now, settings, committee_id, branch_id)


def _secretary_alerts(
    now: datetime, settings: Settings, committee_id: int | None, branch_id: int | None
) -> dict[int, BranchAlerts]:
    from handlers.calendar import DUE, all_branches_due, branch_calendar
    from handlers.dues import owing_and_lapse_alerts_started
    from handlers.outbox import dead_counts

    scope: Expression | None = None
    ids: set[int] | None = None
    if branch_id is not None:
        scope, ids = Member.branch == branch_id, {branch_id}
    elif committee_id is not None:
        ids = {
            b for (b,) in Branch.select(Branch.id).where(Branch.committee == committee_id).tuples()
        }
        scope = Member.branch.in_(Branch.select(Branch.id).where(Branch.committee == committee_id))
    out: dict[int, BranchAlerts] = {}

    def of(branch: int) -> BranchAlerts | None:
        if ids is not None and branch not in ids:
            return None
        found = out.get(branch)
        if found is None:
            found = out[branch] = BranchAlerts(branch)
        return found

    day = local_day(now, _tz(settings))
    soon = day + timedelta(days=30)
    # The dues and meeting aggregates run on worker threads while the other reads run here.
    with owing_and_lapse_alerts_started(now, settings, scope) as dues_alerts:  # one load
        if branch_id is not None:
            due = [r for r in branch_calendar(branch_id, now, settings) if r.status in DUE]
        else:
            due = all_branches_due(now, settings, committee_id)
        lost = _lost_contact_people(now, settings, scope)
        cond = (Member.status == "probationary") & Member.joined_on.is_null(False)
        probationary = list(
            Member.select(Member.branch, Member.id, Member.name, Member.joined_on)
            .where(cond if scope is None else cond & scope)
            .order_by(Member.id)
            .tuples()
        )
        dead = dead_counts(ids)
        all_owing, lapse_alerts = dues_alerts()
    for row in all_owing:
        if (alerts := of(row.branch_id)) is not None:
            alerts.owing.append(row)
    for req in due:
        if (alerts := of(req.branch_id)) is not None:
            alerts.meetings.append(req)
    for alert in lapse_alerts:
        if (alerts := of(alert.branch_id)) is not None:
            alerts.lapse.append(alert)
    for branch, people in lost.items():
        if (alerts := of(branch)) is not None:
            alerts.lost_contact = people
    for branch, member_id, name, joined_on in probationary:
        ends = _one_year_after(joined_on)
        if ends <= soon and (alerts := of(branch)) is not None:
            alerts.probation.append((member_id, name, ends))
    for branch, count in dead.items():
        if (alerts := of(branch)) is not None:
            alerts.dead = count
    return out


def _secretary_digests(now: datetime, settings: Settings) -> list[Outgoing]:
    from handlers.calendar import without_quorum_text
    from handlers.dues import fen_to_text

    day = local_day(now, _tz(settings))
    alerts = _secretary_alerts(now, settings, None, None)
    items: dict[int, list[str]] = {}
    for branch_id, found in alerts.items():
        lines = items[branch_id] = []
        if found.owing:
            rows = found.owing
            total = sum(r.fen for r in rows)
            longest = max(rows, key=lambda r: len(r.months))
            lines.append(
                f"党费：{len(rows)} 人未交清，共 {fen_to_text(total)}"
                f"（最长 {longest.name} {len(longest.months)} 个月）"
            )
        for req in found.meetings:
            who = f"（{req.group_name}）" if req.group_name else ""
            short = req.held_without_quorum
            held = f"，已有 {without_quorum_text(short)}" if short else ""
            if req.status == "overdue":
                state = f"上期未开，本期还剩 {req.days_left} 天{held}"
            else:
                state = f"还剩 {req.days_left} 天{held or '，尚未召开'}"
            lines.append(f"会议：{req.kind_label}{who}{req.period.label}{state}")
        for alert in found.lapse:
            lines.append(
                f"六个月规定：{alert.member_name} 已连续{'至少' if alert.at_least else ''} "
                f"{alert.months} 个月{alert.reason_label}"
            )
        if found.lost_contact:
            members = [name for _, name in found.lost_contact]
            names = "、".join(members[:10])
            more = f"等 {len(members)} 人" if len(members) > 10 else ""
            days = settings.alerts.lost_contact_days
            lines.append(f"失联：{names}{more} 已 {days} 天以上没有任何互动，请联系")
        for _, name, ends in found.probation:
            state = "已到期" if ends <= day else f"将于 {ends.month}月{ends.day}日 到期"
            lines.append(f"转正：{name} 预备期{state}，请按程序讨论转正")
        if found.dead:
            lines.append(f"消息：{found.dead} 条通知未能送达，请检查群机器人或联系方式")
    managers = _manager_ids(None)  # every branch's: no list of 2,000 ids to send
    rows = []
    for branch_id, lines in items.items():
        secretary_id = managers.get(branch_id)
        if secretary_id is None or not lines:
            continue
        text = f"【书记待办】{day.month}月{day.day}日\n" + "\n".join(f"· {x}" for x in lines)
        rows.append(
            Outgoing(
                "secretary_digest",
                "member",
                secretary_id,
                day.isoformat(),
                {"text": text, "title": "书记待办"},
                branch_id,
            )
        )
    return rows


def _one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)
