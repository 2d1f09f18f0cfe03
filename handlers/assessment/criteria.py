"""The branch assessment's criteria: one registered function per criterion.

A criterion judges every branch of a scope (a committee's branches, or one branch) for one
complete month and answers ``{branch id: Measure}``: what was done of what was due, and the
words the breakdown shows ("达标 4/5 项"). Its rate is done / due, at most 1. A branch left
out of the answer, or given ``due`` 0, is *not applicable* that month (nothing was due): the
criterion is left out of that branch's score and the other weights are scaled up
(handlers.assessment.scores), and the breakdown says why (``absent``, or the Measure's text).
Each function runs a constant number of statements whatever the number of branches: it reads
the whole scope at once (``scope.branches`` for ``Member.branch``-style conditions, or
``scope.committee_id`` / ``scope.branch_id`` for the feature's own bulk reads).

The criteria, their labels and the order they are shown are ``LABELS``; their weights are the
``[assessment] weight_<name>`` settings (tests check the two name the same criteria). Four have
no records yet: ``training`` (培训学时), ``development`` (发展党员 steps on time), ``term``
(支部委员会按期换届) and ``volunteer`` (志愿服务时长). Until a function is registered for one,
every branch shows it as 暂无数据 and no score counts it. Adding one is a single function here,
nothing else (no migration: the stored figures are rows per criterion)::

    @criterion("training", absent="本月没有应参加培训的党员")
    def training(scope: Scope) -> dict[int, Measure]:
        # One grouped query over the training records of scope.branches in the month.
        rows = (
            TrainingRecord.select(Member.branch, fn.SUM(TrainingRecord.hours), ...)
            .join(Member)
            .where(scope.members(), TrainingRecord.day.between(scope.month, scope.last_day))
            .group_by(Member.branch)
            .tuples()
        )
        return {branch: Measure(done, due, f"学时 {done}/{due}") for branch, done, due in rows}

then ``flask --app app assessment backfill`` judges the past months with it (until then they
show it as 暂无数据). Suggested measures: training, hours taken of hours required to date
(党员教育管理工作条例: 32 学时 a year, pro rata); development, steps done on time of steps due
in the month (talk within a month, 积极分子 reviews, 转正 at a year); term, 1/1 while the
branch committee's term has not run out un-renewed, 0/1 after; volunteer, hours served of the
hours expected per member and month.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import Case, Expression, fn

from core.config import Settings
from handlers.calendar import all_branches_calendar, branch_calendar
from handlers.dues import branch_month_summary, fen_to_text
from handlers.reminders import study_participation
from models.org import Branch, Member
from models.rectification import CLOSED, RectificationItem

# Every criterion, in the order the breakdown shows them, with its label.
LABELS: dict[str, str] = {
    "meetings": "会议合规",
    "study": "学习参与",
    "dues": "党费收缴",
    "rectification": "整改按期",
    "training": "培训学时",
    "development": "发展党员",
    "term": "按期换届",
    "volunteer": "志愿服务",
}
NO_DATA = "暂无数据"


@dataclass(frozen=True)
class Measure:
    """What a branch did of what was due under one criterion, and how the breakdown says it."""

    done: int
    due: int  # 0: the criterion does not apply this month (``text`` says why)
    text: str

    @property
    def applies(self) -> bool:
        return self.due > 0

    @property
    def rate(self) -> float | None:
        """done / due, at most 1; None when it does not apply."""
        return min(self.done / self.due, 1.0) if self.due > 0 else None


@dataclass(frozen=True)
class Scope:
    """The branches judged and the month: a committee's (``committee_id``) or one branch's
    (``branch_id``); ``branches`` maps those in the system since the month's first day to
    their first local day (others are not judged)."""

    month: date  # the first day
    last_day: date
    end: datetime  # the next month's first moment (aware): the month is judged as of then
    committee_id: int | None
    branch_id: int | None
    branches: dict[int, date]
    settings: Settings

    def members(self) -> Expression:
        """A condition on Member.branch: the scope's branches."""
        if self.branch_id is not None:
            return Member.branch == self.branch_id
        return Member.branch.in_(
            Branch.select(Branch.id).where(Branch.committee == self.committee_id)
        )


Judge = Callable[[Scope], dict[int, Measure]]


@dataclass(frozen=True)
class Criterion:
    name: str
    label: str
    judge: Judge
    absent: str  # why a branch the judge left out is not applicable


REGISTRY: dict[str, Criterion] = {}


def criterion(name: str, *, absent: str) -> Callable[[Judge], Judge]:
    """Register the judge of the criterion ``name`` (a key of LABELS)."""
    if name not in LABELS:
        raise ValueError(f"unknown assessment criterion {name!r}; add it to LABELS")

    def register(judge: Judge) -> Judge:
        REGISTRY[name] = Criterion(name, LABELS[name], judge, absent)
        return judge

    return register


def judge_all(scope: Scope) -> dict[int, dict[str, Measure]]:
    """Every registered criterion for every branch of the scope (criteria without a judge are
    absent: they have no data)."""
    out: dict[int, dict[str, Measure]] = {branch_id: {} for branch_id in scope.branches}
    for name, found in REGISTRY.items():
        measures = found.judge(scope)
        for branch_id, figures in out.items():
            figures[name] = measures.get(branch_id) or Measure(0, 0, found.absent)
    return out


# ---- the criteria with records today ------------------------------------------------------


@criterion("meetings", absent="本月没有到期的会议要求")
def meetings(scope: Scope) -> dict[int, Measure]:
    """Required meetings (the compliance calendar's requirements) whose period ends with the
    month, judged at its end: met (held, with quorum where needed) of those due. A quarter's
    or a year's requirement counts once, in its last month; one whose period began before the
    branch used the system is not judged."""
    judged_at = scope.end - timedelta(microseconds=1)
    if scope.branch_id is not None:
        reqs = branch_calendar(scope.branch_id, judged_at, scope.settings)
    else:
        reqs = all_branches_calendar(judged_at, scope.settings, scope.committee_id)
    tally: dict[int, list[int]] = {}
    for req in reqs:
        since = scope.branches.get(req.branch_id)
        if since is None or req.period.end != scope.last_day or since > req.period.start:
            continue
        counts = tally.setdefault(req.branch_id, [0, 0])
        counts[0] += req.satisfied
        counts[1] += 1
    return {b: Measure(met, due, f"达标 {met}/{due} 项") for b, (met, due) in tally.items()}


@criterion("study", absent="没有党员")
def study(scope: Scope) -> dict[int, Measure]:
    """Party members who checked in on study at least once in the month, of the party members
    (the rate the study summaries and the monthly report give)."""
    rates = study_participation(scope.month, scope.last_day, scope.members())
    return {
        b: Measure(r.participants, r.members, f"参学 {r.participants}/{r.members} 人")
        for b, r in rates.items()
        if r.members
    }


@criterion("dues", absent="本月没有应收党费")
def dues(scope: Scope) -> dict[int, Measure]:
    """Dues collected for the month of those expected (integer fen), as the month's dues
    summary counts them; more than expected still counts as 1."""
    summaries = branch_month_summary(
        scope.month,
        scope.settings,
        committee_id=scope.committee_id,
        branch_id=scope.branch_id,
    )
    out = {}
    for s in summaries:
        if s.expected_fen > 0:
            text = f"实收 {fen_to_text(s.collected_fen)}/应收 {fen_to_text(s.expected_fen)}"
            out[s.branch_id] = Measure(s.collected_fen, s.expected_fen, text)
    return out


@criterion("rectification", absent="本月没有到期的整改事项")
def rectification(scope: Scope) -> dict[int, Measure]:
    """Rectification items whose deadline fell in the month: those marked done (done or
    verified) on or before their deadline, of all of them (one grouped query)."""
    item = RectificationItem
    on_time = fn.SUM(
        Case(None, [(item.status.in_(CLOSED) & (item.done_on <= item.deadline), 1)], 0)
    )
    ours = (
        item.branch == scope.branch_id
        if scope.branch_id is not None
        else item.branch.in_(
            Branch.select(Branch.id).where(Branch.committee == scope.committee_id)
        )
    )
    rows = (
        item.select(item.branch, fn.COUNT(item.id), on_time)
        .where(ours, item.deadline.between(scope.month, scope.last_day))
        .group_by(item.branch)
        .tuples()
    )
    return {
        b: Measure(int(done or 0), int(due), f"按期完成 {int(done or 0)}/{int(due)} 项")
        for b, due, done in rows
    }
