"""The bulk engine of the all-branch views and daily jobs: paid months as bit masks,
raw driver rows, reads on worker threads."""

from __future__ import annotations

import gc
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from peewee import SQL, Case, Expression, Select, fn

from handlers.dues.book import Book, live_payments, reversed_ids
from handlers.dues.loaders import build_book, load_histories, party_members, party_scope
from handlers.dues.money import Settings, amount_of
from handlers.dues.months import add_months, month_span
from models.base import db, is_sqlite
from models.dues import (
    DuesAssessment,
    DuesMonth,
)

# Months per bit-mask column: SQL integers are 64-bit.
_MASK_BITS = 60
# WITH … AS MATERIALIZED: PostgreSQL 12+, SQLite 3.35+ (older SQLite: a plain CTE).
MATERIALIZED_CTE = sqlite3.sqlite_version_info >= (3, 35, 0)


def packed_rows(query: Any, width: int) -> list[int]:
    """Run a query of `width` integer columns named c0, c1 … (NULL counts as 0) and return
    every row's values in one flat list, from a single string the database aggregates.

    The long aggregates run on side_reads' worker threads. Python's sqlite3 releases the GIL
    for each sqlite3_step, one per result row, and takes it back to build the row: 90,000
    rows meant 90,000 hand-offs with the busy main thread, and the read took longer than
    alone. Aggregated into one string, the statement is one step without the GIL.
    """
    packed = query.alias("packed")
    line = None
    for i in range(width):
        value = fn.COALESCE(packed.c[f"c{i}"], 0).cast("TEXT")
        line = value if line is None else line.concat(" ").concat(value)
    every = fn.GROUP_CONCAT(line, " ") if is_sqlite() else fn.string_agg(line, " ")
    text = Select((packed,), (every,)).bind(db).scalar()
    return list(map(int, text.split())) if text else []


def _month_number(column: Any) -> Any:
    """year x 12 + month of a date column, in SQL: consecutive months get consecutive numbers,
    so a month's bit is arithmetic (a CASE arm per month cost more the more months there
    were). SQLite stores dates as ISO text (YYYY-MM-DD)."""
    if is_sqlite():
        year = fn.substr(column, 1, 4).cast("INTEGER")
        return year * 12 + fn.substr(column, 6, 2).cast("INTEGER")
    return (fn.date_part("year", column) * 12 + fn.date_part("month", column)).cast("INTEGER")


def bit_union(bits: Any) -> Any:
    """The OR of a group's bit values (each a power of two, or NULL), as an aggregate.

    PostgreSQL has BIT_OR, which it can hash-aggregate; SQLite has none, and the sum of the
    distinct bits is the same mask (PostgreSQL would sort every row for the DISTINCT).
    """
    return fn.SUM(bits.distinct()) if is_sqlite() else fn.BIT_OR(bits)


def _month_bits(number: Any, count: int) -> list[Any]:
    """The OR of 1 << n over a member's rows (bit_union), n being the row's month number from 0
    (the first month) to count - 1. A column per 60 months (c2, c3 …) keeps the masks in 64
    bits."""
    one = SQL("CAST(1 AS BIGINT)")  # a plain 1 is 32 bits in PostgreSQL: 1 << 40 would wrap
    if count <= _MASK_BITS:  # the WHERE clause keeps n in range
        return [bit_union(Expression(one, "<<", number)).alias("c2")]
    return [
        bit_union(
            Case(
                None, [(number.between(i, i + _MASK_BITS - 1), Expression(one, "<<", number - i))]
            )
        ).alias(f"c{2 + i // _MASK_BITS}")
        for i in range(0, count, _MASK_BITS)
    ]


def _paid_masks(
    scope: Any, first: date, last: date, amounts_of: date | None = None
) -> tuple[dict[int, int], dict[int, int]]:
    """Per member (of `scope`, or everyone: None), the live paid months from `first` through
    `last` as a bit mask (bit k = k months after `first`), and (with `amounts_of`, one of the
    months) the fen of the live entry for that month.

    One statement, whatever the number of members, in up to three parts (UNION ALL):
    every paid month, live or not, read from the (member, month, seq) index alone; the months
    whose entries were all reversed (a few: looked up by payment), taken away in Python; the
    fen paid for `amounts_of`. Checking each of 900,000 entries against the reversed
    payments needed a table row for each, half of the statement's time.
    """
    count = _months_between(first, last) + 1
    if count <= 0:
        return {}, {}
    number = _month_number(DuesMonth.month) - (first.year * 12 + first.month)
    bits = _month_bits(number, count)
    in_range = (DuesMonth.month >= first) & (DuesMonth.month <= last)
    if scope is not None:
        in_range &= DuesMonth.member.in_(scope)
    every = (
        DuesMonth.select(SQL("0").alias("c0"), DuesMonth.member.alias("c1"), *bits)
        .where(in_range)
        .group_by(DuesMonth.member)
    )
    live = DuesMonth.alias("live")
    relived = live.select(SQL("1")).where(
        live.member == DuesMonth.member,
        live.month == DuesMonth.month,
        live.payment.not_in(reversed_ids()),
    )
    freed = (
        DuesMonth.select(SQL("1"), DuesMonth.member, *bits)
        .where(in_range, DuesMonth.payment.in_(reversed_ids()), ~fn.EXISTS(relived))
        .group_by(DuesMonth.member)
    )
    query = every + freed
    if amounts_of is not None:  # a month has one live entry at most (see DuesMonth.seq)
        cond = (DuesMonth.month == amounts_of) & live_payments()
        if scope is not None:
            cond &= DuesMonth.member.in_(scope)
        padding = [SQL("NULL")] * (len(bits) - 1)
        query += DuesMonth.select(
            SQL("2"), DuesMonth.member, DuesMonth.amount_fen, *padding
        ).where(cond)
    return _unpacked_masks(packed_rows(query, 2 + len(bits)), len(bits))


def _unpacked_masks(values: list[int], columns: int) -> tuple[dict[int, int], dict[int, int]]:
    """_paid_masks' rows (part, member id, `columns` mask columns or a fen) → the live paid
    masks (every paid month less the months whose entries were all reversed) and the fen."""
    width = 2 + columns
    masks: dict[int, int] = {}
    reversed_only: dict[int, int] = {}
    amounts: dict[int, int] = {}
    for row in range(0, len(values), width):
        part, member_id = values[row], values[row + 1]
        if part == 2:
            fen = values[row + 2]
            amounts[member_id] = max(fen, amounts.get(member_id, fen))
            continue
        mask = 0
        for j in range(columns):
            mask |= values[row + 2 + j] << (_MASK_BITS * j)
        (masks if part == 0 else reversed_only)[member_id] = mask
    for member_id, mask in reversed_only.items():
        masks[member_id] &= ~mask
    return masks, amounts


@dataclass
class Ledger:
    """Party members with their dues histories and paid months, loaded once for the
    all-branch views (all_owing, lapse_counts …): 4 queries (5 for the owing). Books are
    built only for the members whose months need judging."""

    members: list[Any]
    assessments: dict[int, list[Any]]
    reliefs: dict[int, list[Any]]
    starts: dict[int, date | None]  # member id → Book.start
    months: list[date]  # oldest first, through the current month; bit k of a mask: months[k]
    paid: dict[int, int]  # member id → mask of the live paid months
    paid_fen: dict[int, int]  # member id → fen paid for the current month (if asked for)
    # Subquery of the members' ids; None for all party members: the aggregates then run over
    # everyone (faster than checking each row against 100,000 ids; the others go unused).
    scope: Any
    books: dict[int, Book] = field(default_factory=dict)
    fens: dict[int, int] = field(default_factory=dict)  # assessment id → monthly fen

    def book(self, member: Any) -> Book:
        found = self.books.get(member.id)
        if found is None:
            found = self.books[member.id] = build_book(member, self.assessments, self.reliefs)
        return found

    def fen(self, row: Any, settings: Settings) -> int:
        """monthly_amount of an assessment row, worked out once for the ledger's passes
        (the month's summary, the owing, the six-month rule)."""
        found = self.fens.get(row.id)
        if found is None:
            cfg = settings.dues
            found = self.fens[row.id] = amount_of(
                row.category,
                row.base_fen,
                row.fixed_fen,
                cfg.in_service_rates,
                cfg.retired_rates,
                cfg.student_fen,
            )
        return found

    def due(self, member: Any, month: date, settings: Settings) -> tuple[str, int]:
        """Book.due's state and fen, without a book for most members: one category and
        base, no relief."""
        history = self.assessments.get(member.id)
        if not history:
            return "unset", 0
        if len(history) > 1 or member.id in self.reliefs:
            due = self.book(member).due(month, settings)
            return due.state, due.amount_fen
        start = self.starts[member.id]
        if start is None or month < start:
            return "before", 0
        fen = self.fen(history[0], settings)
        return ("due" if fen > 0 else "exempt"), fen


def _months_between(first: date, last: date) -> int:
    return (last.year - first.year) * 12 + last.month - first.month


def _earliest_assessment() -> date | None:
    """The first month of the oldest assessment of anyone (1 query): no start month is
    earlier. Everyone's, not only the party members' of the ledger: without a join it takes
    a tenth of the time, and an earlier bound only adds months that are shifted out."""
    value = DuesAssessment.select(fn.MIN(DuesAssessment.from_month)).scalar()
    return None if value is None else DuesAssessment.from_month.python_value(value)


Start = Callable[..., Callable[[], Any]]  # side_reads' start(func, *args)


def load_ledger(
    cond: Expression | None, current: date, depth: int, *, owing: bool, amounts: bool = False
) -> Ledger:
    """Load party members matching `cond` (4 queries), with their paid months from `depth`
    months before `current` (with `owing`: from the earliest start month, if earlier; 1 more
    query) through `current`, and (with `amounts`) the fen paid for `current`."""
    with side_reads() as start:
        return start_ledger(start, cond, current, depth, owing=owing, amounts=amounts)()


def start_ledger(
    start: Start,
    cond: Expression | None,
    current: date,
    depth: int,
    *,
    owing: bool,
    amounts: bool = False,
    amounts_of: date | None = None,
) -> Callable[[], Ledger]:
    """load_ledger in two steps: the paid months, the longest statement, start now on a worker
    thread; the function returned loads the members and their histories here and joins them.
    ``amounts_of``: load the fen paid for this month (one of the ledger's) instead of the
    current one's.

    For the owing the earliest start month is only known from the members and histories, so
    the worker reads from the oldest assessment (no start month is before it; 1 query) and
    the masks are shifted to the earliest start afterwards.
    """
    oldest = add_months(current, -depth)

    def paid_months() -> tuple[date, tuple[dict[int, int], dict[int, int]]]:
        low = oldest
        if owing:
            earliest = _earliest_assessment()
            if earliest is not None and earliest < low:
                low = earliest
        # Without a condition: over everyone (see Ledger.scope).
        scope = None if cond is None else party_scope(cond)
        fen_month = amounts_of if amounts_of is not None else current if amounts else None
        return low, _paid_masks(scope, low, current, fen_month)

    paid_job = start(paid_months)

    def finish() -> Ledger:
        members, scope = party_members(cond)
        if cond is None:
            scope = None
        assessments, reliefs = load_histories(scope)
        starts = _start_months(members, assessments)
        first = oldest  # with `owing`, the earliest start month if earlier
        if owing:
            first = min([oldest, *(m for m in starts.values() if m is not None)])
        low, (paid, paid_fen) = paid_job()
        shift = _months_between(low, first)  # low <= first: drop the months before first
        if shift:
            paid = {member_id: mask >> shift for member_id, mask in paid.items()}
        months = month_span(first, current)
        return Ledger(members, assessments, reliefs, starts, months, paid, paid_fen, scope)

    return finish


def _start_months(members: list[Any], assessments: dict[int, list[Any]]) -> dict[int, date | None]:
    """Book.start of every member (the book's rule, inline: it runs for every party member)."""
    starts: dict[int, date | None] = {}
    for m in members:
        history = assessments.get(m.id)
        if not history:
            starts[m.id] = None
            continue
        start_month = history[0].from_month
        joined = m.joined_on
        if joined is not None and joined > start_month:
            joined = joined.replace(day=1)
            if joined > start_month:
                start_month = joined
        starts[m.id] = start_month
    return starts


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while the all-branch views build hundreds of
    thousands of small objects that form no cycles: its full passes over them took ~15 % of
    the time. It runs again (and catches up) when the block ends."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _connected(func: Callable[..., Any], *args: Any) -> Any:
    """Run func on a worker thread with a pooled connection of its own (connections are per
    thread in peewee), given back when it returns."""
    with db.connection_context():
        return func(*args)


@contextmanager
def side_reads(workers: int = 1) -> Iterator[Callable[..., Callable[[], Any]]]:
    """Run independent reads on worker threads (one, or `workers`) while this thread goes on
    with other work.

    Yields ``start(func, *args)``, which queues func for a worker and returns a function that
    waits for its result (and raises its exception). The all-branch jobs are CPU-bound in
    one thread on a machine with more cores; SQLite and psycopg2 release the GIL while a
    statement runs, so a long aggregate on the worker (its rows packed into one string, see
    packed_rows) overlaps with building objects here; WAL lets readers run side by side. The
    block waits for its workers before it ends, even on an exception.

    Consistency is unchanged: these reads were already separate autocommit statements, each
    seeing the database as of its own start, never one snapshot together. Inside a
    transaction a worker could not see the caller's uncommitted rows, and an in-memory SQLite
    database is private to its connection: there each call runs here, at once.
    """
    if db.in_transaction() or (is_sqlite() and db.obj.database == ":memory:"):

        def at_once(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
            result = func(*args)
            return lambda: result

        yield at_once
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zhibu-read") as pool:

        def start(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
            return pool.submit(_connected, func, *args).result

        yield start
