"""The bulk engine of the all-branch views (handlers.dues.bulk: paid months as bit masks over
raw driver rows) agrees with a slow reference: each party member's book read with plain
per-member queries and judged month by month with Book's rules, over generated members,
categories, reliefs and payments (some reversed, some paid again). Each example runs in one
transaction that is rolled back at its end (side_reads then runs its reads on this thread)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import hypothesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from handlers import dues as d
from models.base import db
from models.dues import DuesAssessment, DuesMonth, DuesPayment, DuesRelief
from models.org import PARTY_MEMBER_STATUSES, Branch, Member
from tests import factories as f

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 8, 19, 9, 30, tzinfo=SH)
CURRENT = date(2026, 8, 1)
RECORDED_AT = datetime(2026, 8, 1, 12, tzinfo=SH)

# Month offsets from the current month: far enough back that the owing spans more than one
# 60-month mask column, a little ahead for prepaid months and later starts.
OFFSETS = st.integers(-80, 3)
BASES = st.sampled_from([0, 100, 299_999, 300_000, 300_001, 500_000, 800_000, 1_200_000])
ASSESSMENT = st.tuples(
    st.sampled_from(["in_service", "retired", "farmer", "student", "exempt"]),
    BASES,
    st.integers(20, 100),
    OFFSETS,
)
RELIEF = st.tuples(
    st.sampled_from(["reduce", "exempt", "cancel"]),
    st.integers(1, 5000),
    OFFSETS,
    st.integers(0, 30),
)
MEMBER = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["full", "full", "probationary", "applicant"]),
        "branch": st.integers(0, 1),
        "joined": st.none() | st.tuples(st.integers(-90, 3), st.integers(1, 28)),
        "assessments": st.lists(ASSESSMENT, max_size=3),
        "reliefs": st.lists(RELIEF, max_size=2),
        # month offset -> (which of the member's payments covers it, fen)
        "paid": st.dictionaries(OFFSETS, st.tuples(st.integers(0, 2), st.integers(1, 50_000))),
        # per payment: kept, reversed, or reversed and paid again
        "fates": st.lists(st.sampled_from(["live", "reversed", "repaid"]), min_size=3, max_size=3),
    }
)


class _Rollback(Exception):
    """Ends an example: everything it wrote is rolled back."""


def _month(offset: int) -> date:
    return d.add_months(CURRENT, offset)


def _payment(member: Member, months: dict[date, int], seq: int) -> DuesPayment:
    payment = DuesPayment.create(
        member=member,
        kind="dues",
        amount_fen=sum(months.values()),
        source="collector",
        recorded_at=RECORDED_AT,
    )
    for month, fen in months.items():
        DuesMonth.create(payment=payment, member=member, month=month, amount_fen=fen, seq=seq)
    return payment


def _reverse(payment: DuesPayment) -> None:
    DuesPayment.create(
        member=payment.member_id,
        kind="reversal",
        amount_fen=-payment.amount_fen,
        source="collector",
        reverses=payment.id,
        recorded_at=RECORDED_AT,
    )


def _build(spec: dict[str, Any], branches: list[Branch]) -> None:
    joined = None
    if spec["joined"] is not None:
        joined = _month(spec["joined"][0]).replace(day=spec["joined"][1])
    m = f.member(br=branches[spec["branch"]], status=spec["status"], joined_on=joined)
    for category, base, fixed, offset in spec["assessments"]:
        DuesAssessment.create(
            member=m,
            category=category,
            base_fen=base if category in d.BASED_CATEGORIES else None,
            fixed_fen=fixed if category == "farmer" else None,
            from_month=_month(offset),
            recorded_at=RECORDED_AT,
        )
    for kind, fen, offset, length in spec["reliefs"]:
        DuesRelief.create(
            member=m,
            kind=kind,
            amount_fen=fen if kind == "reduce" else None,
            from_month=_month(offset),
            until_month=_month(offset + length),
            approved_by="某某党委",
            recorded_at=RECORDED_AT,
        )
    groups: dict[int, dict[date, int]] = {}
    for offset, (group, fen) in spec["paid"].items():
        groups.setdefault(group, {})[_month(offset)] = fen
    for group, months in sorted(groups.items()):
        payment = _payment(m, months, 0)
        fate = spec["fates"][group]
        if fate != "live":
            _reverse(payment)
        if fate == "repaid":  # paid again at other amounts
            _payment(m, {month: fen + 1 for month, fen in months.items()}, 1)


# ---- the reference: per member, plain queries, Book's rules month by month ------------------


def reference_books() -> list[d.Book]:
    """Every party member's book, one member at a time with plain ORM queries."""
    reversed_ids = {
        p.reverses_id for p in DuesPayment.select().where(DuesPayment.reverses.is_null(False))
    }
    books = []
    members = Member.select().where(Member.status.in_(PARTY_MEMBER_STATUSES))
    for m in members.order_by(Member.branch, Member.id):
        assessments = list(
            DuesAssessment.select()
            .where(DuesAssessment.member == m.id)
            .order_by(DuesAssessment.from_month, DuesAssessment.id)
        )
        reliefs = list(
            DuesRelief.select().where(DuesRelief.member == m.id).order_by(DuesRelief.id)
        )
        paid = {
            row.month: row
            for row in DuesMonth.select().where(DuesMonth.member == m.id)
            if row.payment_id not in reversed_ids
        }
        book = d.Book(m.id, m.name, m.status, m.branch_id, m.joined_on, assessments, reliefs, paid)
        books.append(book)
    return books


def reference_owing(books: list[d.Book], cfg: dict[str, Any]) -> dict[int, Any]:
    """Book.owed through the current month, for every member who owes."""
    owing = {}
    for book in books:
        owed = book.owed(cfg, CURRENT)
        if owed:
            owing[book.member_id] = (book.branch_id, book.name, owed)
    return owing


def reference_summaries(
    books: list[d.Book], branches: list[Branch], month: date, cfg: dict[str, Any]
) -> list[d.BranchMonthSummary]:
    """Expected and collected for the month, per branch, from each member's due and paid."""
    out = []
    for branch in branches:
        expected = collected = due_n = paid_n = exempt_n = unset_n = 0
        for book in (b for b in books if b.branch_id == branch.id):
            due = book.due(month, cfg)
            paid = book.paid.get(month)
            if paid is not None:
                collected += paid.amount_fen
            if due.state == "due":
                expected += due.amount_fen
                due_n += 1
                paid_n += paid is not None
            exempt_n += due.state == "exempt"
            unset_n += due.state == "unset"
        out.append(
            d.BranchMonthSummary(
                branch.id,
                branch.name,
                month,
                expected,
                collected,
                due_n,
                paid_n,
                exempt_n,
                unset_n,
            )
        )
    return out


def reference_dues_run(book: d.Book, cfg: dict[str, Any]) -> tuple[int, date | None, bool]:
    """Consecutive owed months back from last month; paying (or owing nothing) this month, or
    having no category, means none."""
    depth = max(cfg.dues.lookback_months, cfg.dues.lapse_months)
    if CURRENT in book.paid or not book.assessments:
        return 0, None, False
    if book.due(CURRENT, cfg).state == "exempt":
        return 0, None, False
    run, since = 0, None
    for k in range(1, depth + 1):
        month = d.add_months(CURRENT, -k)
        if book.state(month, cfg, CURRENT) != "owed":
            return run, since, False
        run, since = run + 1, month
    return run, since, True


def reference_alerts(
    books: list[d.Book], branches: list[Branch], cfg: dict[str, Any]
) -> list[d.LapseAlert]:
    """The dues alerts at each level reached (no meetings are held here)."""
    levels = sorted(
        {cfg.dues.alert_first_months, cfg.dues.alert_second_months, cfg.dues.lapse_months}
    )
    names = {b.id: b.name for b in branches}
    alerts = []
    for book in books:
        months, since, at_least = reference_dues_run(book, cfg)
        reached = [level for level in levels if months >= level]
        if reached and since is not None:
            alerts.append(
                d.LapseAlert(
                    book.branch_id,
                    names[book.branch_id],
                    book.member_id,
                    book.name,
                    "dues",
                    months,
                    at_least,
                    reached[-1],
                    since,
                )
            )
    alerts.sort(key=lambda a: (a.branch_id, -a.months, a.member_id, a.reason))
    return alerts


@dataclass
class _Scene:
    books: list[d.Book]
    branches: list[Branch]


def _owing_of(found: list[d.MemberOwing]) -> dict[int, Any]:
    return {o.member_id: (o.branch_id, o.name, o.months) for o in found}


def _check(scene: _Scene, cfg: dict[str, Any], month_offset: int) -> None:
    books, branches = scene.books, scene.branches
    owing = reference_owing(books, cfg)
    assert _owing_of(d.all_owing(NOW, cfg)) == owing
    summaries = reference_summaries(books, branches, CURRENT, cfg)
    assert d.branch_month_summary(CURRENT, cfg) == summaries
    other = _month(month_offset)
    assert d.branch_month_summary(other, cfg) == reference_summaries(books, branches, other, cfg)
    both = d.month_summary_and_owing(NOW, cfg)
    assert both[0] == summaries and _owing_of(both[1]) == owing
    runs = {
        c.member_id: (c.dues_months, c.dues_since, c.dues_at_least)
        for c in d.lapse_counts(NOW, cfg)
    }
    assert runs == {b.member_id: reference_dues_run(b, cfg) for b in books}
    alerts = reference_alerts(books, branches, cfg)
    assert d.lapse_alerts(NOW, cfg) == alerts
    digest_owing, digest_alerts = d.owing_and_lapse_alerts(NOW, cfg)
    assert _owing_of(digest_owing) == owing and digest_alerts == alerts


@hypothesis.settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(members=st.lists(MEMBER, min_size=1, max_size=6), month_offset=st.integers(-80, 3))
def test_the_bulk_engine_agrees_with_the_per_member_reference(
    conn: None,
    settings: dict[str, dict[str, Any]],
    members: list[dict[str, Any]],
    month_offset: int,
) -> None:
    try:
        with db.atomic():
            branches = [f.branch("参照一支部"), f.branch("参照二支部")]
            for spec in members:
                _build(spec, branches)
            _check(_Scene(reference_books(), branches), settings, month_offset)
            raise _Rollback
    except _Rollback:
        pass
