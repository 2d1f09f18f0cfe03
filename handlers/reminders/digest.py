"""The secretary's digest: what each branch has to act on, as data and as a daily message."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from peewee import JOIN, Expression

from core.clock import local_day
from core.config import Settings
from core.workdays import work_calendar
from handlers.development import OverdueStep, day_text, overdue_steps, probation_end
from handlers.outbox import Outgoing
from handlers.rectification import (
    Awaiting,
    Overdue,
    awaiting_verification,
    long_overdue_counts,
    overdue_items,
)
from handlers.reminders.common import local_zone, manager_ids
from handlers.reminders.contact import lost_contact_people, open_cases
from handlers.reminders.organization import organization_lines
from models.development import DevelopmentRecord
from models.org import Branch, Member
from models.pay import PayDifference

if TYPE_CHECKING:  # imported when called: handlers.dues and handlers.calendar load late
    from handlers.calendar import Requirement
    from handlers.dues import LapseAlert, MemberOwing


def _probation_notice(settings: Settings) -> timedelta:
    """A probation ending within this time is listed (discuss the member's full membership)."""
    return timedelta(days=settings.development.remind_probation_days)


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
    no_study_plan: bool = False  # no study topic for the coming days (study.plan_warning_days)
    rectification: list[Overdue] = field(default_factory=list)  # items past their deadline
    awaiting: list[Awaiting] = field(default_factory=list)  # done items to verify
    development: list[OverdueStep] = field(default_factory=list)  # talks, reviews overdue
    pay: list[PayDifference] = field(default_factory=list)  # WeChat Pay bill differences open

    @property
    def count(self) -> int:
        """How many things to act on: people, requirements, undelivered messages, the plan."""
        return (
            len(self.owing)
            + len(self.meetings)
            + len(self.lapse)
            + len(self.lost_contact)
            + len(self.probation)
            + self.dead
            + self.no_study_plan
            + len(self.rectification)
            + len(self.awaiting)
            + len(self.development)
            + len(self.pay)
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
    from handlers.pay import open_differences

    scope, ids = _scope(committee_id, branch_id)
    day = local_day(now, local_zone(settings))
    soon = day + _probation_notice(settings)
    found = _Found()
    # The dues and meeting aggregates run on worker threads while the other reads run here.
    with owing_and_lapse_alerts_started(now, settings, scope) as dues_alerts:  # one load
        if branch_id is not None:
            found.due = [r for r in branch_calendar(branch_id, now, settings) if r.status in DUE]
        else:
            found.due = all_branches_due(now, settings, committee_id)
        # Cases the secretary followed up stay out until their span is over.
        found.lost = open_cases(lost_contact_people(now, settings, scope), day, settings, scope)
        found.probationary = _probationary(scope, settings)
        found.dead = dead_counts(ids)
        found.unplanned = _without_topics(day, settings, ids)
        found.overdue = overdue_items(day, ids)
        found.awaiting = awaiting_verification(ids)
        found.development = overdue_steps(day, settings, ids)
        found.pay = open_differences(ids)
        found.owing, found.lapse = dues_alerts()
    return _by_branch(found, ids, soon)


def people_alerts(
    now: datetime,
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
    lapse: list[LapseAlert] | None = None,
) -> dict[int, BranchAlerts]:
    """The people secretary_alerts names, per branch: the six-month rule, lost contact and
    probation ending (the monthly report's), without the digest's other reads (who owes,
    the calendar, undelivered messages, study plans); a constant number of queries.
    ``lapse``: lapse_alerts(now, …) of the same scope, when the caller has them already."""
    from handlers.dues import gc_paused, lapse_alerts

    scope, ids = _scope(committee_id, branch_id)
    day = local_day(now, local_zone(settings))
    found = _Found()
    with gc_paused():
        if lapse is None:
            lapse = lapse_alerts(now, settings, committee_id=committee_id, branch_id=branch_id)
        found.lapse = lapse
        found.lost = lost_contact_people(now, settings, scope)
        found.probationary = _probationary(scope, settings)
        return _by_branch(found, ids, day + _probation_notice(settings))


def _without_topics(day: date, settings: Settings, ids: set[int] | None) -> set[int]:
    """Branches (of ``ids``, or all) with no study topic from tomorrow for the warning days."""
    from handlers.study.topics import coverage

    first = day + timedelta(days=1)
    covered = coverage(first, first + timedelta(days=settings.study.plan_warning_days - 1))
    query = Branch.select(Branch.id, Branch.committee)
    if ids is not None:
        query = query.where(Branch.id.in_(list(ids)))
    return {b for b, c in query.tuples() if not covered.covers(b, c)}


def _scope(
    committee_id: int | None, branch_id: int | None
) -> tuple[Expression | None, set[int] | None]:
    """The condition on Member and the branch ids for one branch, one committee's or all (None)."""
    if branch_id is not None:
        return Member.branch == branch_id, {branch_id}
    if committee_id is not None:
        ids = {
            b for (b,) in Branch.select(Branch.id).where(Branch.committee == committee_id).tuples()
        }
        scope = Member.branch.in_(Branch.select(Branch.id).where(Branch.committee == committee_id))
        return scope, ids
    return None, None


def _probationary(
    scope: Expression | None, settings: Settings
) -> list[tuple[int, int, str, date]]:
    """(branch id, member id, name, probation's end) of probationary members with a joining
    date; the end counts an extension of probation (延长预备期) recorded for them."""
    cond = (Member.status == "probationary") & Member.joined_on.is_null(False)
    query = (
        Member.select(
            Member.branch,
            Member.id,
            Member.name,
            Member.joined_on,
            DevelopmentRecord.extension_months,
        )
        .join(DevelopmentRecord, JOIN.LEFT_OUTER, on=DevelopmentRecord.member == Member.id)
        .where(cond if scope is None else cond & scope)
        .order_by(Member.id)
    )
    return [
        (branch, member_id, name, probation_end(joined_on, extension, settings))
        for branch, member_id, name, joined_on, extension in query.tuples()
    ]


@dataclass
class _Found:
    """The digest's reads for every branch in scope, before they are grouped by branch."""

    owing: list[MemberOwing] = field(default_factory=list)
    due: list[Requirement] = field(default_factory=list)
    lapse: list[LapseAlert] = field(default_factory=list)
    lost: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    probationary: list[tuple[int, int, str, date]] = field(default_factory=list)
    dead: dict[int, int] = field(default_factory=dict)
    unplanned: set[int] = field(default_factory=set)
    overdue: list[Overdue] = field(default_factory=list)
    awaiting: list[Awaiting] = field(default_factory=list)
    development: list[OverdueStep] = field(default_factory=list)
    pay: list[PayDifference] = field(default_factory=list)


def _by_branch(found: _Found, ids: set[int] | None, soon: date) -> dict[int, BranchAlerts]:
    """Group the reads by branch (only branches of ``ids`` unless None), in a stable order."""
    out: dict[int, BranchAlerts] = {}

    def of(branch: int) -> BranchAlerts | None:
        if ids is not None and branch not in ids:
            return None
        alerts = out.get(branch)
        if alerts is None:
            alerts = out[branch] = BranchAlerts(branch)
        return alerts

    for row in found.owing:
        if (alerts := of(row.branch_id)) is not None:
            alerts.owing.append(row)
    for req in found.due:
        if (alerts := of(req.branch_id)) is not None:
            alerts.meetings.append(req)
    for alert in found.lapse:
        if (alerts := of(alert.branch_id)) is not None:
            alerts.lapse.append(alert)
    for branch, people in found.lost.items():
        if (alerts := of(branch)) is not None:
            alerts.lost_contact = people
    for branch, member_id, name, ends in found.probationary:
        if ends <= soon and (alerts := of(branch)) is not None:
            alerts.probation.append((member_id, name, ends))
    for branch, count in found.dead.items():
        if (alerts := of(branch)) is not None:
            alerts.dead = count
    for branch in sorted(found.unplanned):
        if (alerts := of(branch)) is not None:
            alerts.no_study_plan = True
    for item in found.overdue:
        if (alerts := of(item.branch_id)) is not None:
            alerts.rectification.append(item)
    for done in found.awaiting:
        if (alerts := of(done.branch_id)) is not None:
            alerts.awaiting.append(done)
    for step in found.development:
        if (alerts := of(step.branch_id)) is not None:
            alerts.development.append(step)
    for diff in found.pay:
        if diff.branch_id is not None and (alerts := of(diff.branch_id)) is not None:
            alerts.pay.append(diff)
    return out


def _secretary_digests(now: datetime, settings: Settings) -> list[Outgoing]:
    day = local_day(now, local_zone(settings))
    alerts = _secretary_alerts(now, settings, None, None)
    items = {branch_id: digest_lines(found, day, settings) for branch_id, found in alerts.items()}
    managers = manager_ids(None)  # every branch's: no list of 2,000 ids to send
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
    return rows + _collector_digests(alerts, managers, day)


def _collector_digests(
    alerts: dict[int, BranchAlerts], managers: dict[int, int], day: date
) -> list[Outgoing]:
    """The bill's differences to each dues collector of the branch (the secretary has them in
    the digest already)."""
    from handlers.pay.booking import collectors

    rows = []
    for branch_id, found in alerts.items():
        lines = pay_lines(found.pay)
        if not lines:
            continue
        text = f"【收缴员待办】{day.month}月{day.day}日\n" + "\n".join(f"· {x}" for x in lines)
        for person in collectors(branch_id):
            if person.id == managers.get(branch_id):
                continue
            rows.append(
                Outgoing(
                    "collector_digest",
                    "member",
                    person.id,
                    day.isoformat(),
                    {"text": text, "title": "收缴员待办"},
                    branch_id,
                )
            )
    return rows


def digest_lines(found: BranchAlerts, day: date, settings: Settings) -> list[str]:
    """The digest's lines for one branch, in the order the secretary reads them."""
    from handlers.calendar import without_quorum_text
    from handlers.dues import fen_to_text

    lines = []
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
    lines += _development_lines(found.development)
    if found.dead:
        lines.append(f"消息：{found.dead} 条通知未能送达，请检查群机器人或联系方式")
    if found.no_study_plan:
        days = settings.study.plan_warning_days
        lines.append(
            f"学习计划：未来 {days} 天没有学习主题，群里不会收到学习提醒，"
            "请导入学习计划或在小程序中添加主题"
        )
    lines += pay_lines(found.pay)
    return lines + _overdue_lines(found.rectification) + _awaiting_lines(found.awaiting)


# Bill differences the digest names one by one; the rest are counted.
PAY_NAMED = 3


def pay_lines(diffs: list[PayDifference]) -> list[str]:
    """微信支付对账：2 处差异未核对（已到账未入账 1、金额不符 1）, then the first few named."""
    if not diffs:
        return []
    kinds: dict[str, int] = {}
    for d in diffs:
        kinds[d.kind_label] = kinds.get(d.kind_label, 0) + 1
    counts = "、".join(f"{label} {n}" for label, n in kinds.items())
    lines = [
        f"微信支付对账：{len(diffs)} 处差异未核对（{counts}），请在控制台“党费 › 微信支付”核对"
    ]
    lines += [f"对账差异：{d.day.month}月{d.day.day}日 {d.detail}" for d in diffs[:PAY_NAMED]]
    return lines


# Overdue rectification items the digest names one by one; the rest are counted.
OVERDUE_NAMED = 5


def _overdue_lines(items: list[Overdue]) -> list[str]:
    lines = [
        f"整改：【编号{i.number}】{i.kind_label}已逾期 {i.days} 天"
        f"（截止 {i.deadline.month}月{i.deadline.day}日），请督促责任人完成"
        for i in items[:OVERDUE_NAMED]
    ]
    if len(items) > OVERDUE_NAMED:
        lines.append(f"整改：另有 {len(items) - OVERDUE_NAMED} 项整改事项逾期未完成")
    return lines


def _awaiting_lines(items: list[Awaiting]) -> list[str]:
    """One line for the done items waiting on the secretary's verification."""
    if not items:
        return []
    numbers = "、".join(f"编号{i.number}" for i in items[:OVERDUE_NAMED])
    more = f"等 {len(items)} 项" if len(items) > OVERDUE_NAMED else f"共 {len(items)} 项"
    return [f"整改验收：{numbers}{more}已标记完成，等待您验收（控制台“整改清单”）"]


def _development_lines(steps: list[OverdueStep]) -> list[str]:
    """发展党员：张三 于 2026年7月1日 递交入党申请，谈话已逾期 18 天（应于 8月1日 前）."""
    lines = []
    for s in steps:
        due = f"（应于 {s.due.month}月{s.due.day}日 前）"
        if s.step == "talk":
            since = f" 于 {day_text(s.since)} 递交入党申请，" if s.since else " "
            lines.append(f"发展党员：{s.name}{since}谈话已逾期 {s.days} 天{due}")
        else:
            lines.append(f"发展党员：{s.name} 培养考察已逾期 {s.days} 天{due}")
    return lines


# ---- the committee admin's digest ------------------------------------------------------------


def committee_digests(now: datetime, settings: Settings) -> list[Outgoing]:
    """One digest per committee admin, only when there is something to act on: next year's
    holiday schedule still unknown (in December), branches without study topics ahead,
    rectification items long overdue (a count per branch), and the branches' organization:
    terms ended or never recorded, open lost-contact cases (counts), no party-affairs staff."""
    from handlers.study.topics import coverage

    day = local_day(now, local_zone(settings))
    calendar_line = _calendar_line(day, settings)
    first = day + timedelta(days=1)
    days = settings.study.plan_warning_days
    covered = coverage(first, first + timedelta(days=days - 1))
    unplanned: dict[int, int] = {}
    for branch_id, committee_id in Branch.select(Branch.id, Branch.committee).tuples():
        if not covered.covers(branch_id, committee_id):
            unplanned[committee_id] = unplanned.get(committee_id, 0) + 1
    late_days = settings.rectification.committee_overdue_days
    late = long_overdue_counts(day, late_days)
    organization = organization_lines(now, settings)
    rows = []
    for admin_id, branch_id, committee_id in _committee_admins():
        lines = [calendar_line] if calendar_line else []
        if unplanned.get(committee_id):
            lines.append(
                f"学习计划：{unplanned[committee_id]} 个支部未来 {days} 天没有学习主题，"
                "可用 flask --app app study import 导入党委的学习计划"
            )
        if late.get(committee_id):
            lines.append(_long_overdue_line(late[committee_id], late_days))
        lines += organization.get(committee_id, [])
        if not lines:
            continue
        text = f"【党委待办】{day.month}月{day.day}日\n" + "\n".join(f"· {x}" for x in lines)
        rows.append(
            Outgoing(
                "committee_digest",
                "member",
                admin_id,
                day.isoformat(),
                {"text": text, "title": "党委待办"},
                branch_id,
            )
        )
    return rows


# Branches the committee's overdue line names; the rest are counted.
BRANCHES_NAMED = 10


def _long_overdue_line(counts: list[tuple[str, int]], days: int) -> str:
    """整改：第一党支部 2 项、第二党支部 1 项整改事项逾期 14 天以上未完成."""
    named = "、".join(f"{name} {count} 项" for name, count in counts[:BRANCHES_NAMED])
    more = f"等 {len(counts)} 个支部" if len(counts) > BRANCHES_NAMED else ""
    return f"整改：{named}{more}整改事项逾期 {days} 天以上未完成，请督促"


def _calendar_line(day: date, settings: Settings) -> str | None:
    """In December, a line when next year's holiday schedule is not known yet."""
    following = day.year + 1
    if day.month != 12 or work_calendar(settings).is_published(following):
        return None
    return (
        f"{following} 年节假日安排尚未发布，请在配置中补充（[calendar] 的 holidays 和 "
        "workdays），否则学习提醒会在调休上班日漏发、在放假的工作日照发"
    )


def _committee_admins() -> list[tuple[int, int, int]]:
    """(member id, branch id, committee id) of every committee admin."""
    query = (
        Member.select(Member.id, Member.branch, Branch.committee, Member.roles)
        .join(Branch)
        .where(Member.roles.contains("committee_admin"))
        .order_by(Member.id)
    )
    return [
        (member_id, branch_id, committee_id)
        for member_id, branch_id, committee_id, roles in query.tuples()
        if "committee_admin" in roles.split(",")
    ]
