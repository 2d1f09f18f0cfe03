"""Loading members, dues histories and paid months into books (a few queries each)."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable
from datetime import date
from typing import Any

from peewee import Expression

from handlers.dues.book import Book, live_payments
from models.base import db
from models.dues import (
    DuesAssessment,
    DuesMonth,
    DuesRelief,
)
from models.org import PARTY_MEMBER_STATUSES, Branch, Member

# Rows of the bulk loaders, with the attributes peewee's namedtuples() gave them, built from the
# driver's plain rows: for 100,000 members peewee's per-row conversion took seconds.
_MemberRow = namedtuple("_MemberRow", "id name status branch_id joined_on branch_name")
_AssessmentRow = namedtuple(
    "_AssessmentRow", "id member_id from_month category base_fen fixed_fen approved_by"
)
_ReliefRow = namedtuple(
    "_ReliefRow", "id member_id kind amount_fen from_month until_month approved_by reason"
)
_PaidRow = namedtuple("_PaidRow", "member_id month amount_fen payment_id")


class _Days(dict[Any, Any]):
    """Date columns as the driver returns them (text in SQLite) → date, each value parsed once."""

    def __missing__(self, value: Any) -> date | None:
        day = DuesMonth.month.python_value(value)
        self[value] = day
        return day


def _plain(query: Any) -> Any:
    """Run a query and return the driver's cursor: plain tuples, no peewee row objects."""
    return db.execute(query)


def load_histories(scope: Any) -> tuple[dict[int, list[Any]], dict[int, list[Any]]]:
    """Assessments (by from_month, id) and reliefs (by id) of the members in `scope` (None:
    everyone's), per member; 2 queries."""
    days = _Days()
    assessments: dict[int, list[Any]] = {}
    query = (
        DuesAssessment.select(
            DuesAssessment.id,
            DuesAssessment.member.alias("member_id"),
            DuesAssessment.from_month,
            DuesAssessment.category,
            DuesAssessment.base_fen,
            DuesAssessment.fixed_fen,
            DuesAssessment.approved_by,
        )
        # Member first: the (member, from_month) index gives this order without a sort.
        .order_by(DuesAssessment.member, DuesAssessment.from_month, DuesAssessment.id)
    )
    if scope is not None:
        query = query.where(DuesAssessment.member.in_(scope))
    for id_, member_id, from_month, category, base_fen, fixed_fen, approved_by in _plain(query):
        row = _AssessmentRow(
            id_, member_id, days[from_month], category, base_fen, fixed_fen, approved_by
        )
        found = assessments.get(member_id)
        if found is None:
            assessments[member_id] = [row]
        else:
            found.append(row)
    reliefs: dict[int, list[Any]] = {}
    query = DuesRelief.select(
        DuesRelief.id,
        DuesRelief.member.alias("member_id"),
        DuesRelief.kind,
        DuesRelief.amount_fen,
        DuesRelief.from_month,
        DuesRelief.until_month,
        DuesRelief.approved_by,
        DuesRelief.reason,
    ).order_by(DuesRelief.id)
    if scope is not None:
        query = query.where(DuesRelief.member.in_(scope))
    for id_, member_id, kind, amount_fen, first, last, approved_by, reason in _plain(query):
        reliefs.setdefault(member_id, []).append(
            _ReliefRow(
                id_, member_id, kind, amount_fen, days[first], days[last], approved_by, reason
            )
        )
    return assessments, reliefs


def build_book(
    member: Any, assessments: dict[int, list[Any]], reliefs: dict[int, list[Any]]
) -> Book:
    return Book(
        member.id,
        member.name,
        member.status,
        member.branch_id,
        member.joined_on,
        assessments.get(member.id) or [],
        reliefs.get(member.id) or [],
    )


def load_books(members: Iterable[Any], scope: Any) -> dict[int, Book]:
    """Build books (assessments and reliefs, no payments) for members; 2 queries.

    `scope` is a subquery selecting the same members' ids, so that no id list is sent.
    """
    assessments, reliefs = load_histories(scope)
    return {m.id: build_book(m, assessments, reliefs) for m in members}


def fill_paid(
    books: dict[int, Book], scope: Any, first: date | None = None, last: date | None = None
) -> None:
    """Load the live paid months of the books' members (optionally only first..last); 1 query."""
    query = DuesMonth.select(
        DuesMonth.member.alias("member_id"),
        DuesMonth.month,
        DuesMonth.amount_fen,
        DuesMonth.payment.alias("payment_id"),
    ).where(DuesMonth.member.in_(scope), live_payments())
    if first is not None:
        query = query.where(DuesMonth.month >= first)
    if last is not None:
        query = query.where(DuesMonth.month <= last)
    days = _Days()
    for member_id, month, amount_fen, payment_id in _plain(query):
        book = books.get(member_id)
        if book is not None:
            month = days[month]
            book.paid[month] = _PaidRow(member_id, month, amount_fen, payment_id)


def _party_cond(where: Expression | None) -> Expression:
    cond = Member.status.in_(PARTY_MEMBER_STATUSES)
    return cond if where is None else cond & where


def party_scope(where: Expression | None) -> Any:
    """A subquery of the ids of the party members matching `where` (a new one each call:
    side_reads' threads render their own)."""
    return Member.select(Member.id).join(Branch).where(_party_cond(where))


def party_members(where: Expression | None) -> tuple[list[Any], Any]:
    """Party members (with their branch's name) and a subquery of their ids."""
    cond = _party_cond(where)
    query = (
        Member.select(
            Member.id,
            Member.name,
            Member.status,
            Member.branch.alias("branch_id"),
            Member.joined_on,
            Branch.name.alias("branch_name"),
        )
        .join(Branch)
        .where(cond)
        .order_by(Member.branch, Member.id)
    )
    days = _Days()
    members = [
        _MemberRow(id_, name, status, branch_id, days[joined_on], branch_name)
        for id_, name, status, branch_id, joined_on, branch_name in _plain(query)
    ]
    return members, party_scope(where)


def load_book(member: Member) -> Book:
    """Return one member's book with every paid month (4 queries)."""
    scope = Member.select(Member.id).where(Member.id == member.id)
    books = load_books([member], scope)
    fill_paid(books, scope)
    return books[member.id]
