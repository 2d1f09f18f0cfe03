"""A study plan as people read it: each day, its topic, and where the topic comes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from core.workdays import WorkCalendar
from handlers.study.plans import PlanScope
from handlers.study.topics import topics_between
from models.org import Branch
from models.study import StudyTopic

LEVELS = {"branch": "本支部", "committee": "党委", "everyone": "全体"}


def topic_level(topic: StudyTopic) -> str:
    """Whose topic it is: a branch's, a committee's or everyone's (a key of LEVELS)."""
    if topic.branch_id is not None:
        return "branch"
    return "committee" if topic.committee_id is not None else "everyone"


def month_days(year: int, month: int) -> tuple[date, date]:
    """The first and last day of a month."""
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return first, following - timedelta(days=1)


@dataclass(frozen=True)
class PlanDay:
    day: date
    workday: bool
    topic: StudyTopic | None  # the branch's topic that day (its own, its committee's, all)

    @property
    def level(self) -> str | None:
        return topic_level(self.topic) if self.topic is not None else None


def branch_plan(branch: Branch, first: date, last: date, calendar: WorkCalendar) -> list[PlanDay]:
    """Every day from ``first`` to ``last``: whether it is a working day and the branch's topic."""
    topics = topics_between(branch, first, last)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return [PlanDay(d, calendar.is_workday(d), topics.get(d)) for d in days]


def scope_topics(scope: PlanScope, first: date, last: date) -> list[StudyTopic]:
    """The topics of one plan (a branch's, a committee's or everyone's) from first to last."""
    query = StudyTopic.select().where(scope.condition(), StudyTopic.day.between(first, last))
    return list(query.order_by(StudyTopic.day, StudyTopic.id.desc()))


@dataclass(frozen=True)
class MonthPlan:
    scope: PlanScope
    days: list[PlanDay]  # every day of the month

    @property
    def planned(self) -> int:
        return sum(1 for d in self.days if d.topic is not None)

    @property
    def unplanned_workdays(self) -> list[date]:
        return [d.day for d in self.days if d.workday and d.topic is None]


def month_plan(scope: PlanScope, year: int, month: int, calendar: WorkCalendar) -> MonthPlan:
    """A month of a plan: for a branch, the topic it gets each day (its own or inherited); for
    a committee or everyone, that plan's own topics."""
    first, last = month_days(year, month)
    if scope.branch_id is not None:
        branch = Branch.get_by_id(scope.branch_id)
        return MonthPlan(scope, branch_plan(branch, first, last, calendar))
    topics: dict[date, StudyTopic] = {}
    for topic in scope_topics(scope, first, last):
        topics.setdefault(topic.day, topic)
    days = (first + timedelta(days=n) for n in range((last - first).days + 1))
    return MonthPlan(scope, [PlanDay(d, calendar.is_workday(d), topics.get(d)) for d in days])
