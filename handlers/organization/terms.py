"""Branch committee terms (换届): recorded elections, the current term's end, its status, and
which terms are due a reminder.

A term starts on the day recorded and lasts [terms] years, or the branch's own length
recorded with it (village and community branches often have 5); a new record without a length
keeps the branch's previous one. The latest start is the current term; earlier ones are its
history. A term is due soon from [terms] remind_first_months before its end, overdue from its
end until a new term is recorded.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from peewee import IntegrityError, fn

from core.config import Settings
from handlers.audit import record
from handlers.branches import branch_acted_for
from handlers.errors import Conflict, DomainError, Invalid
from handlers.organization.base import Person, checked_text, day_text, local_today, people
from models.base import write_tx
from models.org import BRANCH_MANAGERS, Branch, Member
from models.organization import BranchTerm

STATUS_LABELS = {
    "none": "未登记换届信息",
    "ok": "任期内",
    "due_soon": "即将届满",
    "overdue": "已届满未换届",
}


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (29 February: the 28th)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def months_before(day: date, months: int) -> date:
    """The same day ``months`` earlier, or the last day of that month when it is shorter."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


@dataclass(frozen=True)
class Term:
    """A recorded term with its end."""

    id: int
    branch_id: int
    started_on: date
    years: int
    own_years: bool  # the branch recorded its own length (else [terms] years)
    ends_on: date
    note: str
    recorded_at: datetime
    recorded_by: Person | None


@dataclass(frozen=True)
class TermState:
    """A branch's current term judged on ``today``: none, ok, due_soon or overdue."""

    branch_id: int
    current: Term | None
    status: str
    days_left: int | None  # to the end; negative once it passed; None without a term
    today: date

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class TermPage:
    branch: Branch
    state: TermState
    history: list[Term]  # newest first, the current term first


def term_of(row: BranchTerm, settings: Settings, by: Person | None = None) -> Term:
    years = row.years or settings.terms.years
    return Term(
        row.id,
        row.branch_id,
        row.started_on,
        years,
        row.years is not None,
        add_years(row.started_on, years),
        row.note,
        row.recorded_at,
        by,
    )


def judge(branch_id: int, term: Term | None, today: date, settings: Settings) -> TermState:
    """The term's status on ``today``."""
    if term is None:
        return TermState(branch_id, None, "none", None, today)
    left = (term.ends_on - today).days
    if left <= 0:
        status = "overdue"
    elif today >= months_before(term.ends_on, settings.terms.remind_first_months):
        status = "due_soon"
    else:
        status = "ok"
    return TermState(branch_id, term, status, left, today)


def current_terms(committee_id: int | None = None, branch_id: int | None = None) -> dict:
    """The current (latest) term row of every branch that has one (of one committee, or one
    branch), by branch id, in one query."""
    latest = BranchTerm.select(
        BranchTerm.branch.alias("branch_id"), fn.MAX(BranchTerm.started_on).alias("last")
    ).group_by(BranchTerm.branch)
    if branch_id is not None:
        latest = latest.where(BranchTerm.branch == branch_id)
    elif committee_id is not None:
        ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
        latest = latest.where(BranchTerm.branch.in_(ours))
    query = BranchTerm.select().join(
        latest,
        on=(BranchTerm.branch == latest.c.branch_id) & (BranchTerm.started_on == latest.c.last),
    )
    return {row.branch_id: row for row in query}


def term_states(
    today: date, settings: Settings, committee_id: int | None = None
) -> dict[int, TermState]:
    """Every branch's term status (of one committee, or all), in two queries."""
    rows = current_terms(committee_id)
    branches = Branch.select(Branch.id)
    if committee_id is not None:
        branches = branches.where(Branch.committee == committee_id)
    out = {}
    for (branch_id,) in branches.tuples():
        row = rows.get(branch_id)
        term = term_of(row, settings) if row is not None else None
        out[branch_id] = judge(branch_id, term, today, settings)
    return out


def term_state(branch_id: int, today: date, settings: Settings) -> TermState:
    """One branch's term status (for a page whose access is already checked)."""
    row = current_terms(branch_id=branch_id).get(branch_id)
    term = term_of(row, settings) if row is not None else None
    return judge(branch_id, term, today, settings)


def _page(branch: Branch, today: date, settings: Settings) -> TermPage:
    rows = list(
        BranchTerm.select()
        .where(BranchTerm.branch == branch.id)
        .order_by(BranchTerm.started_on.desc())
    )
    names = people(r.recorded_by_id for r in rows)
    history = [term_of(r, settings, names.get(r.recorded_by_id)) for r in rows]
    state = judge(branch.id, history[0] if history else None, today, settings)
    return TermPage(branch, state, history)


def branch_term(
    actor: Member, branch_id: int | None, *, now: datetime, settings: Settings
) -> TermPage:
    """The branch's current term and its history, for its managers (a committee admin's too)."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    return _page(branch, local_today(now, settings), settings)


def _checked_start(started_on: date, today: date, settings: Settings) -> date:
    ahead = settings.terms.start_ahead_days
    if started_on > today + timedelta(days=ahead):
        raise DomainError(
            f"换届日期 {day_text(started_on)} 晚于今天 {ahead} 天以上。请在选举后登记，"
            f"新一届任期最多可提前 {ahead} 天登记。",
            errcode="start_in_future",
        )
    return started_on


def _checked_years(years: int | None, settings: Settings) -> int | None:
    most = settings.terms.max_years
    if years is not None and not 1 <= years <= most:
        raise Invalid(f"任期年限应为 1 到 {most} 年，本次为 {years} 年。", errcode="invalid_years")
    return years


def record_term(
    actor: Member,
    branch_id: int | None,
    *,
    started_on: date,
    years: int | None = None,
    note: str = "",
    now: datetime,
    settings: Settings,
) -> TermPage:
    """Record an election: a new term from ``started_on`` (after the current one's start), of
    ``years`` years, else the branch's previous own length, else [terms] years."""
    branch = branch_acted_for(actor, branch_id, BRANCH_MANAGERS)
    today = local_today(now, settings)
    _checked_start(started_on, today, settings)
    years = _checked_years(years, settings)
    note = checked_text(note, "备注", settings.terms.note_max_chars)
    current = current_terms(branch_id=branch.id).get(branch.id)
    if current is not None and started_on <= current.started_on:
        raise Conflict(
            f"本届任期自 {day_text(current.started_on)} 起，新一届的开始日期应晚于它。",
            errcode="not_after_current",
        )
    if years is None and current is not None:
        years = current.years  # the branch's own length carries over
    with write_tx():
        try:
            row = BranchTerm.create(
                branch=branch,
                started_on=started_on,
                years=years,
                note=note,
                recorded_by=actor.id,
                recorded_at=now,
            )
        except IntegrityError:  # recorded by someone else a moment ago
            raise Conflict("这次换届刚刚已经登记过了，请刷新后查看。") from None
        term = term_of(row, settings)
        record(
            actor,
            "term.record",
            summary=f"登记换届：{branch.name}任期 {day_text(term.started_on)} 至 "
            f"{day_text(term.ends_on)}",
            target=f"term:{row.id}",
            branch_id=branch.id,
            after={"started_on": started_on, "years": years, "note": note},
            now=now,
        )
    return _page(branch, today, settings)


# ---- reminders -------------------------------------------------------------------------------


def reminder_stage(term: Term, today: date, settings: Settings) -> int | None:
    """Months before the end whose reminder is due today: the nearest stage reached (3 once
    within 3 months, else 6 once within 6), None outside them or once the term ended."""
    if today >= term.ends_on:
        return None
    cfg = settings.terms
    for months in sorted({cfg.remind_last_months, cfg.remind_first_months}):
        if today >= months_before(term.ends_on, months):
            return months
    return None


@dataclass(frozen=True)
class DueTerm:
    term: Term
    months: int  # the reminder's stage
    branch_name: str


def due_terms(today: date, settings: Settings) -> list[DueTerm]:
    """Current terms within a reminder stage, with their stage, in two queries."""
    due = []
    for _, row in sorted(current_terms().items()):
        term = term_of(row, settings)
        months = reminder_stage(term, today, settings)
        if months is not None:
            due.append((term, months))
    if not due:
        return []
    ids = [term.branch_id for term, _ in due]  # a sixth of the branches at most
    names = dict(Branch.select(Branch.id, Branch.name).where(Branch.id.in_(ids)).tuples())
    return [DueTerm(term, months, names.get(term.branch_id, "")) for term, months in due]
