"""Reading a member's moves and departure, and recognising a departed member's number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from peewee import JOIN

from handlers.membership.base import phone_hash
from models.membership import REASONS, TRANSFER_SOURCES, Departure, MemberReturn, Transfer
from models.org import Branch, Member


@dataclass(frozen=True)
class PastMove:
    from_branch: str
    to_branch: str
    moved_on: date
    source: str
    source_label: str
    recorded_by: str  # the manager's name, or "" for the operator or an import without one
    recorded_at: datetime


@dataclass(frozen=True)
class Left:
    reason: str
    reason_label: str
    left_on: date
    branch: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class CameBack:
    """A return (转回) after a transfer out: the departure it undid and the day back."""

    left_on: date
    left_reason_label: str
    left_branch: str
    returned_on: date
    to_branch: str
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class History:
    """A member's transfers and returns (oldest first) and departure (None while on the
    roll)."""

    moves: list[PastMove] = field(default_factory=list)
    departure: Left | None = None
    returns: list[CameBack] = field(default_factory=list)


def _names(model: type, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(model.select(model.id, model.name).where(model.id.in_(wanted)).tuples())


def membership_history(member_id: int) -> History:
    """The member's transfers, returns and departure, with branch and manager names (five
    queries)."""
    moves = list(
        Transfer.select()
        .where(Transfer.member == member_id)
        .order_by(Transfer.moved_on, Transfer.id)
    )
    backs = list(
        MemberReturn.select()
        .where(MemberReturn.member == member_id)
        .order_by(MemberReturn.returned_on, MemberReturn.id)
    )
    gone = Departure.get_or_none(Departure.member == member_id)
    branches = _names(
        Branch,
        [m.from_branch_id for m in moves]
        + [m.to_branch_id for m in moves]
        + [b.left_branch_id for b in backs]
        + [b.to_branch_id for b in backs]
        + ([gone.branch_id] if gone else []),
    )
    people = _names(
        Member,
        [m.recorded_by_id for m in moves]
        + [b.recorded_by_id for b in backs]
        + ([gone.recorded_by_id] if gone else []),
    )
    return History(
        [
            PastMove(
                branches.get(m.from_branch_id, ""),
                branches.get(m.to_branch_id, ""),
                m.moved_on,
                m.source,
                TRANSFER_SOURCES.get(m.source, m.source),
                people.get(m.recorded_by_id, ""),
                m.recorded_at,
            )
            for m in moves
        ],
        None
        if gone is None
        else Left(
            gone.reason,
            REASONS.get(gone.reason, gone.reason),
            gone.left_on,
            branches.get(gone.branch_id, ""),
            people.get(gone.recorded_by_id, ""),
            gone.recorded_at,
        ),
        [
            CameBack(
                b.left_on,
                REASONS.get(b.left_reason, b.left_reason),
                branches.get(b.left_branch_id, ""),
                b.returned_on,
                branches.get(b.to_branch_id, ""),
                people.get(b.recorded_by_id, ""),
                b.recorded_at,
            )
            for b in backs
        ],
    )


@dataclass(frozen=True)
class Departed:
    """A departure a roster row's number belongs to (``returned_on``: they came back since,
    under another number)."""

    name: str
    left_on: date
    reason_label: str
    returned_on: date | None = None


def departed_numbers(phones: Iterable[str], secret_key: str) -> dict[str, Departed]:
    """Of these mobile numbers, those of members who left, by number (one query a thousand)."""
    by_hash = {phone_hash(secret_key, p): p for p in set(phones)}
    found: dict[str, Departed] = {}
    hashes = sorted(by_hash)
    for start in range(0, len(hashes), 1000):
        query = (
            Departure.select(
                Departure.phone_hash, Departure.left_on, Departure.reason, Member.name
            )
            .join(Member, on=Departure.member == Member.id)
            .where(Departure.phone_hash.in_(hashes[start : start + 1000]))
            .tuples()
        )
        for digest, left_on, reason, name in query:
            found[by_hash[digest]] = Departed(name, left_on, REASONS.get(reason, reason))
        # Numbers they had before a transfer out and a return: refused too, saying so (or,
        # when they have left again since, saying that).
        came_back = (
            MemberReturn.select(
                MemberReturn.phone_hash,
                MemberReturn.left_on,
                MemberReturn.left_reason,
                Member.name,
                MemberReturn.returned_on,
                Departure.left_on,
                Departure.reason,
            )
            .join(Member, on=MemberReturn.member == Member.id)
            .join(Departure, JOIN.LEFT_OUTER, on=Departure.member == Member.id)
            .where(MemberReturn.phone_hash.in_(hashes[start : start + 1000]))
            .order_by(MemberReturn.returned_on)
            .tuples()
        )
        for digest, left_on, reason, name, back, again_on, again_reason in came_back:
            phone = by_hash[digest]
            if phone in found:
                continue
            if again_on is not None:  # they left again after coming back
                found[phone] = Departed(name, again_on, REASONS.get(again_reason, again_reason))
            else:
                found[phone] = Departed(name, left_on, REASONS.get(reason, reason), back)
    return found
