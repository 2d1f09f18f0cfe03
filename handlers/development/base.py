"""Developing members: who may see and record whose development, and the people of the
pipeline read with their records in a constant number of queries.

A person's development is managed by the managers of their own branch (书记, 副书记, 组织委员):
they see the branch's pipeline and record its steps. A committee admin sees counts per branch,
never people; a member sees their own record. A person of another branch is "not found", as
an id that does not exist; a member of the branch without a manager's role is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from peewee import JOIN, Expression, fn

from core.clock import local_day
from core.config import Settings
from handlers.development.rules import PIPELINE, Days
from handlers.errors import DomainError, Forbidden, NotFound
from models.development import DevelopmentRecord, DevelopmentReview
from models.org import BRANCH_MANAGERS, Branch, Member

HIDDEN = "请求的资源不存在，或您无权查看。"
NOT_MANAGER = "只有本支部的书记、副书记或组织委员可以查看和登记发展党员工作。"


def hidden() -> DomainError:
    return NotFound(HIDDEN, errcode="not_found")


def local_today(now: datetime, settings: Settings) -> date:
    return local_day(now, ZoneInfo(settings.app.timezone))


def manages(actor: Member | None, branch_id: int) -> bool:
    """A manager of that very branch (a committee admin's role reaches counts only)."""
    return actor is not None and actor.branch_id == branch_id and actor.has_role(*BRANCH_MANAGERS)


def managed_branch(actor: Member, branch_id: int | None) -> Branch:
    """The actor's own branch when they manage it; another branch's id is refused alike
    whether it exists or not."""
    if not manages(actor, actor.branch_id):
        raise Forbidden(NOT_MANAGER)
    if branch_id is not None and branch_id != actor.branch_id:
        raise Forbidden("没有权限进行此操作。")
    return actor.branch


def managed_person(actor: Member, member_id: int) -> Member:
    """A person of the actor's branch, which the actor manages; another branch's person is
    not found."""
    person = (
        Member.select(Member, Branch)
        .join(Branch)
        .where(Member.id == member_id, Member.branch == actor.branch_id)
        .first()
    )
    if person is None:
        raise hidden()
    if not manages(actor, person.branch_id):
        raise Forbidden(NOT_MANAGER)
    return person


@dataclass(frozen=True)
class Person:
    """A person with their development record (None: none yet) and last review day."""

    member: Member
    record: DevelopmentRecord | None
    last_review_on: date | None

    @property
    def days(self) -> Days:
        m = self.member
        return Days.of(m.status, self.record, m.joined_on, self.last_review_on)


def last_reviews(record_ids: list[int]) -> dict[int, date]:
    """The day of each record's latest review, in one grouped query."""
    if not record_ids:
        return {}
    query = (
        DevelopmentReview.select(DevelopmentReview.record, fn.MAX(DevelopmentReview.on))
        .where(DevelopmentReview.record.in_(record_ids))
        .group_by(DevelopmentReview.record)
    )
    found: dict[int, date] = {}
    for record_id, on in query.tuples():
        found[record_id] = on if isinstance(on, date) else date.fromisoformat(str(on))
    return found


def people(where: Expression | None, *, stages: tuple[str, ...] = PIPELINE) -> list[Person]:
    """The people at ``stages`` (of the branches ``where`` selects: a condition on Member, or
    None for every branch) with their records and last reviews, in two queries."""
    query = (
        Member.select(Member, DevelopmentRecord)
        .join(
            DevelopmentRecord,
            JOIN.LEFT_OUTER,
            on=DevelopmentRecord.member == Member.id,
            attr="dev",
        )
        .where(Member.status.in_(stages))
        .order_by(Member.branch, Member.id)
    )
    if where is not None:
        query = query.where(where)
    members = list(query)
    records = [_record_of(m) for m in members]
    reviews = last_reviews([r.id for r in records if r is not None])
    return [
        Person(m, r, reviews.get(r.id) if r is not None else None)
        for m, r in zip(members, records, strict=True)
    ]


# The record's days the rules read (rules.Days), selected by pipeline_days.
DAY_FIELDS = (
    "applied_on",
    "talked_on",
    "activist_on",
    "contacts_on",
    "candidate_on",
    "political_review_on",
    "training_on",
    "admitted_on",
    "extension_months",
)


def _day(value: object) -> date | None:
    return date.fromisoformat(str(value)) if value is not None and not isinstance(value, date) \
        else value  # fmt: skip


def pipeline_days(where: Expression) -> list[tuple[int, Days]]:
    """(branch id, Days) of the people in the pipeline of the branches ``where`` selects (a
    condition on Member): only the columns the rules read, each review's latest day grouped by
    the database, in one statement — for counts over thousands of people (no models built)."""
    latest = (
        DevelopmentReview.select(
            DevelopmentReview.record.alias("record_id"),
            fn.MAX(DevelopmentReview.on).alias("last_on"),
        )
        .join(DevelopmentRecord, on=DevelopmentReview.record == DevelopmentRecord.id)
        .join(Member, on=DevelopmentRecord.member == Member.id)
        .where(where, Member.status.in_(PIPELINE))
        .group_by(DevelopmentReview.record)
        .alias("latest_review")
    )
    query = (
        Member.select(
            Member.branch,
            Member.status,
            Member.joined_on,
            *(getattr(DevelopmentRecord, name) for name in DAY_FIELDS),
            latest.c.last_on,
        )
        .join(DevelopmentRecord, JOIN.LEFT_OUTER, on=DevelopmentRecord.member == Member.id)
        .join(latest, JOIN.LEFT_OUTER, on=latest.c.record_id == DevelopmentRecord.id)
        .where(where, Member.status.in_(PIPELINE))
        .tuples()
    )
    found = []
    for branch_id, status, joined_on, *days, last_on in query:
        values = dict(zip(DAY_FIELDS, days, strict=True))
        values["admitted_on"] = values["admitted_on"] or joined_on
        found.append((branch_id, Days(status, **values, last_review_on=_day(last_on))))
    return found


def _record_of(member: Member) -> DevelopmentRecord | None:
    record = getattr(member, "dev", None)
    return record if record is not None and record.id is not None else None


def person_of(member: Member) -> Person:
    """One person (any stage) with their record and last review."""
    record = DevelopmentRecord.get_or_none(DevelopmentRecord.member == member.id)
    last = last_reviews([record.id]).get(record.id) if record is not None else None
    return Person(member, record, last)
