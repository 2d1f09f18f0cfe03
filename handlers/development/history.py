"""The development deadlines of a past month, per branch: which fell due in it and which the
branch met on time, rebuilt from the days recorded (not from today's stage, so a month judged
again later says the same).

The deadlines are the time rules' (handlers.development.rules): the talk within
``talk_within_months`` of the application, met when talked on or before the day; a review every
``review_every_months`` from the activist decision (then from each review) until admission, met
when a review is recorded on or before the day, the next one counted from that review (or from
the late one); the discussion of 转正 when probation ends, met when the 转正 — or, at the end of
the first probation, the extension — is recorded by the end of that month (转正 cannot be
recorded before probation ends, so the day itself cannot be the bar). A step whose day is
unknown because the person came in through the roster at a later stage is not judged.

Everything is read in two statements whatever the number of branches: the people who may have
a deadline in the month with their days, and the reviews of those reviewed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from peewee import JOIN, Expression, fn

from core.config import Settings
from handlers.development.rules import REVIEWED, add_months, probation_end, talk_due
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import Member

# The deadlines judged, in the order a text names them, with their short names.
DEADLINES: dict[str, str] = {"talk": "谈话", "review": "考察", "full": "转正"}


@dataclass
class MonthDeadlines:
    """A branch's deadlines of the month: [met, due] per kind (keys of DEADLINES)."""

    counts: dict[str, list[int]] = field(default_factory=dict)

    def add(self, kind: str, met: bool) -> None:
        tally = self.counts.setdefault(kind, [0, 0])
        tally[0] += met
        tally[1] += 1

    @property
    def met(self) -> int:
        return sum(met for met, _ in self.counts.values())

    @property
    def due(self) -> int:
        return sum(due for _, due in self.counts.values())

    @property
    def detail(self) -> str:
        """谈话 1/1、考察 0/2: the kinds that fell due."""
        return "、".join(
            f"{name} {self.counts[k][0]}/{self.counts[k][1]}"
            for k, name in DEADLINES.items()
            if k in self.counts
        )


@dataclass(frozen=True)
class _Person:
    branch_id: int
    status: str
    record_id: int | None
    applied_on: date | None
    talked_on: date | None
    activist_on: date | None
    admitted_on: date | None
    extended_on: date | None
    extension_months: int | None
    full_on: date | None


def _conditions(first: date, last: date, settings: Settings) -> tuple[Any, Any, Any]:
    """SQL conditions wider than each rule, so that only people who may have a deadline in
    [first, last] are read: (talk, review, 转正)."""
    r, cfg = DevelopmentRecord, settings.development
    admitted = fn.COALESCE(r.admitted_on, Member.joined_on)
    talk = r.applied_on.between(add_months(first, -cfg.talk_within_months - 1), last)
    review = (
        r.activist_on.is_null(False)
        & (r.activist_on <= last)
        & (r.admitted_on.is_null() | (r.admitted_on > first))
        & (Member.status.in_(REVIEWED) | r.admitted_on.is_null(False))
    )
    months = cfg.probation_months + cfg.extension_max_months + 1
    full = admitted.between(add_months(first, -months), last) & (
        (Member.status == "probationary")
        | fn.COALESCE(r.full_on, Member.full_on).is_null(False)
        | r.extended_on.is_null(False)
    )
    return talk, review, full


def _people(members: Expression, first: date, last: date, settings: Settings) -> list[_Person]:
    r = DevelopmentRecord
    talk, review, full = _conditions(first, last, settings)
    query = (
        Member.select(
            Member.branch,
            Member.status,
            r.id,
            r.applied_on,
            r.talked_on,
            r.activist_on,
            fn.COALESCE(r.admitted_on, Member.joined_on),
            r.extended_on,
            r.extension_months,
            fn.COALESCE(r.full_on, Member.full_on),
        )
        .join(r, JOIN.LEFT_OUTER, on=(r.member == Member.id))
        .where(members, talk | review | full)
        .tuples()
    )
    return [_Person(*(_day(v) if i in (6, 9) else v for i, v in enumerate(row))) for row in query]


def _day(value: Any) -> date | None:
    """A COALESCE of dates (SQLite answers text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _reviews(members: Expression, first: date, last: date, settings: Settings) -> dict:
    """{record id: its review days, in order} of the people whose reviews may fall due."""
    _, review, _ = _conditions(first, last, settings)
    v, r = DevelopmentReview, DevelopmentRecord
    query = (
        v.select(v.record, v.on)
        .join(r, on=(v.record == r.id))
        .join(Member, on=(r.member == Member.id))
        .where(members, review)
        .order_by(v.record, v.on)
        .tuples()
    )
    found: dict[int, list[date]] = defaultdict(list)
    for record_id, on in query:
        found[record_id].append(on)
    return found


def _talk(p: _Person, first: date, last: date, settings: Settings) -> list[bool]:
    if p.applied_on is None or (p.talked_on is None and p.status != "applicant"):
        return []
    due = talk_due(p.applied_on, settings)
    if not first <= due <= last:
        return []
    return [p.talked_on is not None and p.talked_on <= due]


def _review(
    p: _Person, days: list[date], first: date, last: date, settings: Settings
) -> list[bool]:
    if p.activist_on is None or (p.admitted_on is None and p.status not in REVIEWED):
        return []
    every = settings.development.review_every_months
    out: list[bool] = []
    since = p.activist_on
    while True:
        due = add_months(since, every)
        if due > last or (p.admitted_on is not None and p.admitted_on <= due):
            return out
        done = next((d for d in days if d > since), None)
        if due >= first:
            out.append(done is not None and done <= due)
        if done is None:
            return out
        since = done


def _full(p: _Person, first: date, last: date, settings: Settings) -> list[bool]:
    if p.admitted_on is None:
        return []
    if p.full_on is None and p.extended_on is None and p.status != "probationary":
        return []
    out = []
    if first <= probation_end(p.admitted_on, None, settings) <= last:
        decided = p.extended_on if p.extension_months else p.full_on
        out.append(decided is not None and decided <= last)
    if (
        p.extension_months
        and first <= probation_end(p.admitted_on, p.extension_months, settings) <= last
    ):
        out.append(p.full_on is not None and p.full_on <= last)
    return out


def month_deadlines(
    members: Expression, first: date, last: date, settings: Settings
) -> dict[int, MonthDeadlines]:
    """{branch id: its development deadlines falling in [first, last] and those met on time}
    for the people matching ``members`` (a condition on Member); branches with none left out.
    Two statements."""
    reviews = _reviews(members, first, last, settings)
    out: dict[int, MonthDeadlines] = {}
    for p in _people(members, first, last, settings):
        days = reviews.get(p.record_id, []) if p.record_id is not None else []
        judged = {
            "talk": _talk(p, first, last, settings),
            "review": _review(p, days, first, last, settings),
            "full": _full(p, first, last, settings),
        }
        for kind, results in judged.items():
            for met in results:
                out.setdefault(p.branch_id, MonthDeadlines()).add(kind, met)
    return out
