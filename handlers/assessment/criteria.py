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
``[assessment] weight_<name>`` settings (tests check the two name the same criteria). All eight
are judged from records; the four later ones read their feature's own bulk query
(handlers.training, handlers.development.history, handlers.organization.terms,
handlers.volunteer). A criterion without a registered function would show as 暂无数据 and count
in no score. Adding one is a single function here, nothing else (no migration: the stored
figures are rows per criterion)::

    @criterion("name", absent="本月没有……")   # name: a key of LABELS with a weight_<name> setting
    def name(scope: Scope) -> dict[int, Measure]:
        # One grouped query over scope.branches (scope.members(), scope.of_branches(field)).
        return {branch: Measure(done, due, f"…… {done}/{due}") for branch, done, due in rows}

then ``flask --app app assessment backfill`` judges the past months with it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import Case, Expression, Field, fn

from core.config import Settings
from handlers.calendar import all_branches_calendar, branch_calendar
from handlers.development.history import month_deadlines
from handlers.dues import branch_month_summary, fen_to_text
from handlers.organization.base import day_text
from handlers.organization.terms import Term, term_of
from handlers.reminders import study_participation
from handlers.training import branch_progress, year_span
from handlers.volunteer import month_share
from models.org import Branch, Member
from models.organization import BranchTerm
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
        return rate_of(self.done, self.due) if self.due > 0 else None


def rate_of(done: int, due: int) -> float:
    """done / due (due > 0), at most 1."""
    return min(done / due, 1.0)


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

    def of_branches(self, branch: Field) -> Expression:
        """A condition on a field naming a branch: one of the scope's branches."""
        if self.branch_id is not None:
            return branch == self.branch_id
        return branch.in_(Branch.select(Branch.id).where(Branch.committee == self.committee_id))

    def members(self) -> Expression:
        """A condition on Member.branch: the scope's branches."""
        return self.of_branches(Member.branch)


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


# ---- the criteria ------------------------------------------------------------------------------


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
    rows = (
        item.select(item.branch, fn.COUNT(item.id), on_time)
        .where(scope.of_branches(item.branch), item.deadline.between(scope.month, scope.last_day))
        .group_by(item.branch)
        .tuples()
    )
    return {
        b: Measure(int(done or 0), int(due), f"按期完成 {int(done or 0)}/{int(due)} 项")
        for b, due, done in rows
    }


def hours(minutes: int) -> str:
    """Minutes as hours with one decimal, without a trailing .0: 90 → 1.5, 120 → 2."""
    return f"{minutes / 60:.1f}".removesuffix(".0")


@criterion("training", absent="没有党员")
def training(scope: Scope) -> dict[int, Measure]:
    """Party members' 学时 from January to the month's end (the counted meetings attended and
    the training recorded, as handlers.training counts them) against the year's required hours
    pro rata, ``required_hours_per_year`` × months elapsed / 12: each member counts up to that
    bar, so done / due is the members' average share of it (minutes; one statement)."""
    bar = scope.settings.training.required_hours_per_year * 60 * scope.month.month // 12
    span = year_span(scope.month.year, scope.end, scope.settings)
    found = branch_progress(scope.members(), span, bar, scope.settings)
    return {
        b: Measure(
            p.counted,
            p.members * bar,
            f"达到进度 {p.reached}/{p.members} 人，"
            f"计入 {hours(p.counted)}/{hours(p.members * bar)} 学时",
        )
        for b, p in found.items()
        if p.members
    }


@criterion("development", absent="本月没有到期的发展党员工作")
def development(scope: Scope) -> dict[int, Measure]:
    """The development deadlines that fell in the month (the talk, each review, the 转正
    discussion; handlers.development.history) met on time, of those due (two statements)."""
    found = month_deadlines(scope.members(), scope.month, scope.last_day, scope.settings)
    return {
        b: Measure(d.met, d.due, f"按期 {d.met}/{d.due} 项（{d.detail}）")
        for b, d in found.items()
    }


@criterion("term", absent="未登记换届信息")
def term(scope: Scope) -> dict[int, Measure]:
    """1/1 when the branch committee's term in effect at the month's end has not run out and
    did not start late in the month (after the previous one ran out); 0/1 when it ran out
    without a new term, started late, or no term was ever recorded (one statement)."""
    rows = (
        BranchTerm.select()
        .where(scope.of_branches(BranchTerm.branch), BranchTerm.started_on <= scope.last_day)
        .order_by(BranchTerm.branch, BranchTerm.started_on)
    )
    terms: dict[int, list[Term]] = {}
    for row in rows:
        terms.setdefault(row.branch_id, []).append(term_of(row, scope.settings))
    return {b: _term_measure(terms.get(b, []), scope) for b in scope.branches}


def _term_measure(terms: list[Term], scope: Scope) -> Measure:
    """A branch's terms started by the month's end, oldest first, judged at its end."""
    if not terms:
        return Measure(0, 1, "未登记换届信息")
    current = terms[-1]
    if current.ends_on <= scope.last_day:
        return Measure(0, 1, f"任期已于{day_text(current.ends_on)}届满，未换届")
    before = terms[-2] if len(terms) > 1 else None
    if before and scope.month <= current.started_on and before.ends_on < current.started_on:
        late = f"上届{day_text(before.ends_on)}届满，{day_text(current.started_on)}才换届"
        return Measure(0, 1, late)
    return Measure(1, 1, f"任期内（{day_text(current.ends_on)}届满）")


@criterion("volunteer", absent="没有党员")
def volunteer(scope: Scope) -> dict[int, Measure]:
    """Party members' confirmed volunteer service in the month against
    ``[assessment] volunteer_hours_per_member`` each: each member counts up to it, so done /
    due is the members' average share of the expected hours (minutes; one statement)."""
    expected = scope.settings.assessment.volunteer_hours_per_member * 60
    found = month_share(scope.month, scope.members(), expected)
    out = {}
    for b, s in found.items():
        if s.members:
            due = s.members * expected
            text = f"参加 {s.served}/{s.members} 人，计入 {hours(s.counted)}/{hours(due)} 小时"
            out[b] = Measure(s.counted, due, text)
    return out
