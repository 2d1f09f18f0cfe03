"""Which study topic a branch has on a day: its own, else its committee's, else everyone's."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from time import monotonic
from typing import Any, TypeVar

from peewee import Case, Database, Expression, Select

from models.base import db
from models.org import Branch, Member
from models.prepared import columns, day_reader, execute, fetchone, load
from models.study import StudyTopic

_day = day_reader(StudyTopic.day)

# How specific a topic is: a branch's (0) beats its committee's (1) beats everyone's (2).
_SPECIFIC = Case(
    None, ((StudyTopic.branch.is_null(False), 0), (StudyTopic.committee.is_null(False), 1)), 2
)


def _reaches(v: Mapping[str, Any]) -> Expression:
    """Topics that apply to the branch ``v["branch"]`` of committee ``v["committee"]``."""
    return (
        (StudyTopic.branch == v["branch"])
        | ((StudyTopic.branch.is_null()) & (StudyTopic.committee == v["committee"]))
        | ((StudyTopic.branch.is_null()) & (StudyTopic.committee.is_null()))
    )


def _topic_query(v: Mapping[str, Any]) -> Select:
    """The day's topics for a branch, most specific first, then newest first."""
    return (
        StudyTopic.select(*columns(StudyTopic))
        .where(StudyTopic.day == v["day"], _reaches(v))
        .order_by(_SPECIFIC, StudyTopic.id.desc())
        .limit(1)
    )


class _Kept:
    """What this process read of the topics, for one database: each entry by its key, with
    the generation and the time (monotonic) it was read at."""

    def __init__(self) -> None:
        self.entries: dict[tuple[Any, ...], tuple[int, float, Any]] = {}
        self.generation = 0  # moved on by forget_topics: what was kept before is not used


_KEPT: weakref.WeakKeyDictionary[Database, _Kept] = weakref.WeakKeyDictionary()
KEPT_MAX = 10_000  # entries; all are dropped past it (a day of 10,000 branches)

T = TypeVar("T")


def _kept() -> _Kept:
    kept = _KEPT.get(db.obj)
    if kept is None:
        kept = _KEPT.setdefault(db.obj, _Kept())
    return kept


def forget_topics() -> None:
    """Stop using the topics this process kept: call after a change to topics commits."""
    kept = _kept()
    kept.generation += 1
    kept.entries.clear()


def _kept_or_read(key: tuple[Any, ...], max_age: float, read: Callable[[], T]) -> T:
    """What ``read()`` gave for ``key`` less than ``max_age`` seconds ago in this process, with
    no ``forget_topics`` since it started; else ``read()`` now (and keep it)."""
    if max_age <= 0:
        return read()
    kept, now = _kept(), monotonic()
    generation = kept.generation  # taken first: a change committed during the read wins
    found = kept.entries.get(key)
    if found is not None and found[0] == generation and now - found[1] < max_age:
        return found[2]
    value = read()
    if len(kept.entries) >= KEPT_MAX:
        kept.entries.clear()
    kept.entries[key] = (generation, now, value)
    return value


def today_topic(member: Member, day: date, *, max_age: float = 0) -> StudyTopic | None:
    """Return the day's topic for the member: their branch's, else their committee's, else all.

    Of several at one level, the newest. With ``max_age`` (seconds, ``study.topic_cache_
    seconds``) a topic this process read for the branch and day less than that long ago is
    used again: a change made through this process shows at once (``forget_topics``), one
    made by another process (a worker, the command line) within ``max_age``.
    """
    branch = member.branch
    values = {"day": day, "branch": branch.id, "committee": branch.committee_id}

    def read() -> StudyTopic | None:
        row = fetchone("study_today_topic", _topic_query, values)
        return load(StudyTopic, row) if row is not None else None

    return _kept_or_read(("today", branch.id, branch.committee_id, day), max_age, read)


def _days_query(v: Mapping[str, Any]) -> Select:
    return (
        StudyTopic.select(StudyTopic.day)
        .where(StudyTopic.day > v["first"], StudyTopic.day <= v["last"], _reaches(v))
        .distinct()
    )


def topic_days(branch: Branch, first: date, last: date, *, max_age: float = 0) -> frozenset[date]:
    """The days after ``first`` up to ``last`` on which the branch has a topic (any level);
    read again after ``max_age`` seconds, as ``today_topic``."""
    values = {"first": first, "last": last, "branch": branch.id, "committee": branch.committee_id}

    def read() -> frozenset[date]:
        rows = execute("study_topic_days", _days_query, values)
        return frozenset(_day(d) for (d,) in rows)

    key = ("days", branch.id, branch.committee_id, first, last)
    return _kept_or_read(key, max_age, read)


def topics_between(branch: Branch, first: date, last: date) -> dict[date, StudyTopic]:
    """The branch's topic for each day from ``first`` to ``last`` (both included) that has one."""
    values = {"branch": branch.id, "committee": branch.committee_id}
    query = (
        StudyTopic.select()
        .where(StudyTopic.day.between(first, last), _reaches(values))
        .order_by(StudyTopic.day, _SPECIFIC, StudyTopic.id.desc())
    )
    found: dict[date, StudyTopic] = {}
    for topic in query:
        found.setdefault(topic.day, topic)
    return found


@dataclass(frozen=True)
class Coverage:
    """Where study topics reach over some days: by branch, by committee, and everyone's."""

    branches: set[int]
    committees: set[int]
    everyone: bool

    def covers(self, branch_id: int, committee_id: int) -> bool:
        return self.everyone or branch_id in self.branches or committee_id in self.committees


def coverage(first: date, last: date) -> Coverage:
    """Which branches and committees have a topic on some day from ``first`` to ``last``."""
    rows = (
        StudyTopic.select(StudyTopic.branch, StudyTopic.committee)
        .where(StudyTopic.day.between(first, last))
        .distinct()
        .tuples()
    )
    branches: set[int] = set()
    committees: set[int] = set()
    everyone = False
    for branch_id, committee_id in rows:
        if branch_id is not None:
            branches.add(branch_id)
        elif committee_id is not None:
            committees.add(committee_id)
        else:
            everyone = True
    return Coverage(branches, committees, everyone)
