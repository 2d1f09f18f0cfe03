"""The assessment's figures: judged once per branch and month, stored, read by every view.

Judging a month means the compliance calendar, the dues of every member and the month's study
check-ins: seconds for a city's 2,000 branches, and a trend of six months six times that. A
complete month's figures change only through records entered late, so they are judged once and
stored (models.assessment): by the ``assessment_month`` job on the 1st for the month just
ended, by ``flask --app app assessment backfill`` for months before, and otherwise the first
time a view asks for a month not stored yet. Reading a committee's month is then one statement.

A branch is judged for a month only when it was in the system from the month's first day (its
``created_at`` local day), as the compliance calendar judges past periods: months before a
roster was imported say nothing about the branch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Expression, fn

from core.clock import UTC, local_day
from core.config import Settings
from handlers.assessment.criteria import Measure, Scope, judge_all, rate_of
from handlers.dues import add_months
from models.assessment import AssessmentFigure
from models.base import write_tx
from models.org import Branch

log = logging.getLogger(__name__)

Figures = dict[str, Measure]
INSERT_CHUNK = 500


def zone(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.app.timezone)


def month_end(month: date, tz: ZoneInfo) -> datetime:
    """The next month's first moment, aware UTC."""
    return datetime.combine(add_months(month, 1), time(), tzinfo=tz).astimezone(UTC)


def branch_rows(*, committee_id: int | None = None, branch_id: int | None = None) -> list[Any]:
    """(id, name, committee_id, created_at) of a committee's branches or of one, by id."""
    query = Branch.select(
        Branch.id, Branch.name, Branch.committee.alias("committee_id"), Branch.created_at
    ).order_by(Branch.id)
    if committee_id is not None:
        query = query.where(Branch.committee == committee_id)
    if branch_id is not None:
        query = query.where(Branch.id == branch_id)
    return list(query.namedtuples())


def first_days(rows: Iterable[Any], tz: ZoneInfo) -> dict[int, date]:
    """Each branch's first local day in the system."""
    return {row.id: local_day(row.created_at, tz) for row in rows}


def judged_in(month: date, since: dict[int, date]) -> dict[int, date]:
    """The branches judged for a month: those in the system from its first day."""
    return {b: day for b, day in since.items() if day <= month}


def stored(branches: Expression, months: list[date]) -> dict[tuple[int, date], Figures]:
    """The stored figures of the branches (a condition on AssessmentFigure.branch) for the
    months, by (branch id, month): one statement."""
    f = AssessmentFigure
    out: dict[tuple[int, date], Figures] = {}
    for branch_id, month, name, done, due, text in (
        f.select(f.branch, f.month, f.criterion, f.done, f.due, f.text)
        .where(branches, f.month.in_(months))
        .tuples()
    ):
        out.setdefault((branch_id, month), {})[name] = Measure(int(done), int(due), text)
    return out


def judge(
    month: date,
    since: dict[int, date],
    settings: Settings,
    *,
    committee_id: int | None = None,
    branch_id: int | None = None,
) -> dict[int, Figures]:
    """Judge a complete month for a committee's branches or one branch (those of ``since``
    in the system from the month's first day); a constant number of statements."""
    tz = zone(settings)
    branches = judged_in(month, since)
    if not branches:
        return {}
    last_day = add_months(month, 1) - timedelta(days=1)
    end = month_end(month, tz)
    scope = Scope(month, last_day, end, committee_id, branch_id, branches, settings)
    return judge_all(scope)


def save(month: date, found: dict[int, Figures], now: datetime, *, replace: bool) -> int:
    """Store judged figures (``replace``: the branches' month is judged again; otherwise
    figures already stored, by a concurrent view, are kept). Returns the branches stored."""
    rows = [
        {
            "branch": branch_id,
            "month": month,
            "criterion": name,
            "done": m.done,
            "due": m.due,
            "text": m.text,
            "computed_at": now,
        }
        for branch_id, figures in found.items()
        for name, m in figures.items()
    ]
    f = AssessmentFigure
    with write_tx():
        if replace and found:
            f.delete().where(f.branch.in_(list(found)), f.month == month).execute()
        for start in range(0, len(rows), INSERT_CHUNK):
            f.insert_many(rows[start : start + INSERT_CHUNK]).on_conflict_ignore().execute()
    return len(found)


def committee_month(
    committee_id: int, month: date, rows: list[Any], settings: Settings, now: datetime
) -> dict[int, Figures]:
    """A committee's month (``rows``: its branches): read, and judged first for the branches
    judged that month whose figures are not stored yet."""
    tz = zone(settings)
    since = judged_in(month, first_days(rows, tz))
    ours = AssessmentFigure.branch.in_(
        Branch.select(Branch.id).where(Branch.committee == committee_id)
    )
    figures = {b: fig for (b, _), fig in stored(ours, [month]).items()}
    missing = set(since) - set(figures)
    if missing:
        if len(missing) == 1:
            (only,) = missing
            found = judge(month, {only: since[only]}, settings, branch_id=only)
        else:
            found = judge(month, since, settings, committee_id=committee_id)
        found = {b: fig for b, fig in found.items() if b in missing}
        save(month, found, now, replace=False)
        figures.update(found)
    return figures


def unjudged(committee_id: int, month: date, settings: Settings) -> bool:
    """Whether a branch of the committee judged for the month (in the system from its first
    day, as ``judged_in``) has no stored figures for it yet: one statement."""
    day_after = datetime.combine(month + timedelta(days=1), time(), tzinfo=zone(settings))
    f = AssessmentFigure
    figures = f.select(f.id).where(f.branch == Branch.id, f.month == month)
    return (
        Branch.select(Branch.id)
        .where(
            Branch.committee == committee_id,
            Branch.created_at < day_after.astimezone(UTC),
            ~fn.EXISTS(figures),
        )
        .exists()
    )


def applicable(committee_id: int, month: date, names: list[str]) -> dict[int, dict[str, float]]:
    """{branch id: {criterion: rate}} of a committee's stored month, the criteria ``names``
    that applied only (due > 0): the figures a ranking needs and nothing else (no text), in
    one statement. Branches with none are left out."""
    f = AssessmentFigure
    ours = Branch.select(Branch.id).where(Branch.committee == committee_id)
    query = f.select(f.branch, f.criterion, f.done, f.due).where(
        f.branch.in_(ours), f.month == month, f.due > 0, f.criterion.in_(names)
    )
    out: dict[int, dict[str, float]] = {}
    for branch_id, name, done, due in query.tuples():
        out.setdefault(branch_id, {})[name] = rate_of(int(done), int(due))
    return out


def branch_months(
    row: Any, months: list[date], settings: Settings, now: datetime
) -> dict[date, Figures | None]:
    """One branch's figures for each month (None: not judged, it was not in the system yet);
    months not stored are judged for this branch alone and stored."""
    since = first_days([row], zone(settings))
    found = {m: fig for (_, m), fig in stored(AssessmentFigure.branch == row.id, months).items()}
    out: dict[date, Figures | None] = {}
    for month in months:
        if month in found:
            out[month] = found[month]
        elif judged_in(month, since):
            judged = judge(month, since, settings, branch_id=row.id)
            save(month, judged, now, replace=False)
            out[month] = judged[row.id]
        else:
            out[month] = None
    return out


def judge_and_store(
    committee_id: int, months: list[date], settings: Settings, now: datetime
) -> int:
    """Judge the months again for every branch of a committee and store them, replacing what
    was stored (the job, the backfill). Returns the branch-months stored."""
    since = first_days(branch_rows(committee_id=committee_id), zone(settings))
    total = 0
    for month in months:
        found = judge(month, since, settings, committee_id=committee_id)
        total += save(month, found, now, replace=True)
    log.info(
        "assessment: committee %s, %d months, %d branch-months", committee_id, len(months), total
    )
    return total
