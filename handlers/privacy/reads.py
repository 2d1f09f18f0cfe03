"""The read log (查阅记录): who looked at whom. Every time a manager opens one member's detail
(the console's member page, a person's development record in the console or the API) or
downloads a file naming members (the roster, the dues ledger, the record book, a branch's
monthly report; from the console, the API or the command line), the use case that answers
notes it here, in the same request: who, when, through which door, what, and each member it
named. The committee admin reads the log (console, API, command line); nobody else does.

One entry per read, and one small row per member the read named: "who looked at member X"
is then one indexed look-up, and a committee's roster of 100,000 members is one entry and
100,000 rows of two integers, written in batches. The log keeps ids, not foreign keys, so
deleting a member never touches it; the nightly prune (handlers.housekeeping) deletes reads
older than read_log.keep_days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Expression

from core.config import Settings
from core.doors import current_door
from handlers.errors import Forbidden, Invalid, NotFound
from models.audit import OPERATOR_NAME
from models.base import write_tx
from models.org import Branch, Committee, Member
from models.prepared import BulkInsert
from models.reads import READ_KINDS, ReadEntry, ReadMember

FORBIDDEN = "查阅记录只有党委管理员可以查看。"
BATCH = 5000  # member rows per INSERT on PostgreSQL: 10,000 of its 65,535 bound parameters


# ---- noting a read -----------------------------------------------------------------------------


def _committee_of(branch_id: int) -> int | None:
    return Branch.select(Branch.committee).where(Branch.id == branch_id).scalar()


def _note(
    actor: Member | None,
    kind: str,
    *,
    subject: str,
    branch_id: int | None,
    committee_id: int | None,
    named: Iterable[int],
    now: datetime,
    full_phones: bool = False,
) -> ReadEntry:
    ids = sorted(set(named))
    if branch_id is not None:
        committee_id = _committee_of(branch_id)
    with write_tx():
        entry = ReadEntry.create(
            at=now,
            actor_id=actor.id if actor is not None else None,
            actor_name=(actor.name if actor is not None else OPERATOR_NAME)[:50],
            door=current_door(),
            kind=kind,
            branch_id=branch_id,
            committee_id=committee_id,
            subject=subject[:100],
            members=len(ids),
            full_phones=full_phones,
        )
        if ids:
            first = {"entry_id": entry.id, "member_id": ids[0]}
            rows = [(member_id,) for member_id in ids]
            BulkInsert.of("read_member", _insert_member, first, ("member_id",), rows).execute(
                BATCH
            )
    return entry


def _insert_member(values: dict[str, int]) -> Any:
    return ReadMember.insert(entry_id=values["entry_id"], member_id=values["member_id"])


def note_member_read(actor: Member | None, member: Member, kind: str, *, now: datetime) -> None:
    """Note that ``actor`` (None: the operator) opened ``member``'s detail (``kind`` member or
    development)."""
    _note(
        actor,
        kind,
        subject=member.name,
        branch_id=member.branch_id,
        committee_id=None,
        named=[member.id],
        now=now,
    )


def note_file_read(
    actor: Member | None,
    kind: str,
    *,
    subject: str,
    scope: str,
    scope_id: int,
    named: Iterable[int],
    now: datetime,
    full_phones: bool = False,
) -> None:
    """Note that ``actor`` downloaded a file (``kind`` roster, ledger, book or report) of a
    branch or a committee (``scope``), naming the members ``named``."""
    branch_id = scope_id if scope == "branch" else None
    committee_id = scope_id if scope == "committee" else None
    _note(
        actor,
        kind,
        subject=subject,
        branch_id=branch_id,
        committee_id=committee_id,
        named=named,
        now=now,
        full_phones=full_phones,
    )


# ---- reading the log ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    entry: ReadEntry
    kind_label: str
    branch_name: str  # "" for a committee's file
    member_id: int | None  # the member of a detail read


@dataclass(frozen=True)
class ReadPage:
    reads: list[Read]  # newest first
    total: int
    limit: int
    offset: int


@dataclass(frozen=True)
class ReadFilter:
    """What the log is filtered by: a member (by id or part of the name), a manager (by id
    or part of the name), and local days, both included."""

    member_id: int | None = None
    member_name: str = ""
    actor_id: int | None = None
    actor_name: str = ""
    since: date | None = None
    until: date | None = None


def _moment(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def _conditions(committee_id: int, wanted: ReadFilter, tz: ZoneInfo) -> Expression:
    where = ReadEntry.committee_id == committee_id
    if wanted.since and wanted.until and wanted.since > wanted.until:
        raise Invalid("查阅记录的起始日期不能晚于截止日期。", errcode="invalid_range")
    people = Member.select(Member.id).join(Branch).where(Branch.committee == committee_id)
    if wanted.member_id is not None or wanted.member_name:
        if wanted.member_id is not None:
            people = people.where(Member.id == wanted.member_id)
        if wanted.member_name:
            people = people.where(Member.name.contains(wanted.member_name))
        named = ReadMember.select(ReadMember.entry_id).where(ReadMember.member_id.in_(people))
        where &= ReadEntry.id.in_(named)
    if wanted.actor_id is not None:
        where &= ReadEntry.actor_id == wanted.actor_id
    if wanted.actor_name:
        where &= ReadEntry.actor_name.contains(wanted.actor_name)
    if wanted.since:
        where &= ReadEntry.at >= _moment(wanted.since, tz)
    if wanted.until:
        where &= ReadEntry.at < _moment(wanted.until + timedelta(days=1), tz)
    return where


def _page(
    committee_id: int, wanted: ReadFilter, *, limit: int, offset: int, settings: Settings
) -> ReadPage:
    tz = ZoneInfo(settings.app.timezone)
    select = ReadEntry.select().where(_conditions(committee_id, wanted, tz))
    total = select.count()
    rows = list(
        select.order_by(ReadEntry.at.desc(), ReadEntry.id.desc()).limit(limit).offset(offset)
    )
    branches = {r.branch_id for r in rows if r.branch_id is not None}
    names = dict(Branch.select(Branch.id, Branch.name).where(Branch.id.in_(branches)).tuples())
    single = [r.id for r in rows if r.kind in ("member", "development")]
    members = dict(
        ReadMember.select(ReadMember.entry_id, ReadMember.member_id)
        .where(ReadMember.entry_id.in_(single))
        .tuples()
    )
    reads = [
        Read(r, READ_KINDS.get(r.kind, r.kind), names.get(r.branch_id, ""), members.get(r.id))
        for r in rows
    ]
    return ReadPage(reads, total, limit, offset)


def read_log(
    actor: Member, wanted: ReadFilter, *, limit: int, offset: int, settings: Settings
) -> ReadPage:
    """The reads of the committee admin's committee, newest first, filtered; refused to
    everyone else (a branch's secretary included: the log watches the branches' managers)."""
    if not actor.has_role("committee_admin"):
        raise Forbidden(FORBIDDEN, errcode="forbidden")
    committee_id = Branch.get_by_id(actor.branch_id).committee_id
    return _page(committee_id, wanted, limit=limit, offset=offset, settings=settings)


def read_log_named(
    committee_name: str | None, wanted: ReadFilter, *, limit: int, settings: Settings
) -> tuple[Committee, ReadPage]:
    """The operator's read log of a committee by name (or of the only committee there is)."""
    if committee_name:
        committee = Committee.get_or_none(Committee.name == committee_name)
        if committee is None:
            raise NotFound(f"没有名为“{committee_name}”的党委。")
    else:
        found = list(Committee.select().limit(2))
        if len(found) != 1:
            raise Invalid("数据库中有多个党委（或没有党委），请用 --committee 指定党委名称。")
        committee = found[0]
    return committee, _page(committee.id, wanted, limit=limit, offset=0, settings=settings)


# ---- retention ---------------------------------------------------------------------------------
