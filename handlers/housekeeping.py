"""Housekeeping: keep only what is needed (README: What we keep, why, for how long).

The prune job deletes rows that only matter for a while (callback dedupe, rate windows,
sessions and logins, binding codes, data download links, the scheduler's run records) and
clears what outlives its use in rows that stay: a study check-in's reflection after
``retention.reflection_years``, a finished outbox message's text after
``retention.outbox_payload_days``.

Work goes in chunks of ``CHUNK`` rows, each its own short write transaction, so a large
backlog never holds SQLite's write lock for long while callbacks wait. On the tables that grow
the chunks go along an index (the partial ones of migration 0023 hold only the rows not yet
cleared), so a night's run reads what it changes, not the years of check-ins and messages
behind it; the small tables are read whole.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from peewee import Expression, Field, ModelBase, fn

from core.clock import local_day
from core.config import Settings
from models.api import ApiSession
from models.base import write_tx
from models.console import ConsoleLogin, ConsoleSession
from models.jobs import JobRun
from models.outbox import PRUNED_PAYLOAD, OutboxMessage
from models.privacy import ExportLink
from models.reads import ReadEntry, ReadMember
from models.study import StudyCheckin
from models.wechat import BindCode, InboundMessage, RateEvent

log = logging.getLogger(__name__)

CHUNK = 2000
# The longest rate window is an hour (wrong binding / sign-in codes): a day is plenty.
RATE_EVENT_KEEP = timedelta(days=1)
LOGIN_KEEP = timedelta(days=1)
# Outbox states no drain touches again: given up (dead: a manager may send it again until its
# text is cut) or nothing to send it by (skipped). Pending rows, failed ones waiting for their
# retry included, and rows being sent keep their payload whatever their age.
GIVEN_UP = ("dead", "skipped")


@dataclass(frozen=True)
class Rule:
    """One kind of pruning: delete the rows matching ``cond``, or set ``values`` on them."""

    kind: str  # how the result names it: the table, or table.column for a cleared column
    model: ModelBase
    cond: Expression
    # None: delete the rows. Otherwise the new values, which must make ``cond`` false for the
    # row (each chunk looks for rows still matching it).
    values: Mapping[Field, Any] | None = None
    # The indexed column the chunks go along (None for the small tables without one).
    order: Field | None = None


@dataclass(frozen=True)
class Pruned:
    """How many rows of each kind were deleted or cleared (or would be, in a dry run)."""

    counts: dict[str, int]
    cleared: frozenset[str]  # the kinds whose rows were cleared, not deleted
    dry_run: bool = False

    def __str__(self) -> str:
        deleted = [f"{n} {k}" for k, n in self.counts.items() if k not in self.cleared]
        cleared = [f"{n} {k}" for k, n in self.counts.items() if k in self.cleared]
        verbs = ("would delete", "would clear") if self.dry_run else ("deleted", "cleared")
        return f"{verbs[0]} {', '.join(deleted)}; {verbs[1]} {', '.join(cleared)}"


def _chunked(
    model: ModelBase, cond: Expression, order: Field | None, change: Callable[[list[int]], int]
) -> int:
    """Apply change to the ids of the rows matching cond, CHUNK at a time, each chunk in its
    own write transaction; return the rows changed.

    With ``order`` (an indexed column of cond), chunks go along it, each from where the last
    ended: a chunk reads its rows from the index whatever the planner thinks of the backlog,
    and never walks again over the rows (or, on PostgreSQL, the dead index entries) that the
    chunks before it changed. A row that still matches after its change would be found again:
    that stops with an error rather than looping.
    """
    total, seen, last = 0, set[int](), None
    while True:
        where = cond if last is None else cond & (order >= last)
        query = model.select(model.id, *([order] if order is not None else [])).where(where)
        if order is not None:
            query = query.order_by(order)
        with write_tx():
            rows = list(query.limit(CHUNK).tuples())
            ids = [row[0] for row in rows]
            if seen.intersection(ids):
                raise RuntimeError(f"{model.__name__}: changed rows still match {cond}")
            if ids:
                total += change(ids)
        if len(ids) < CHUNK:
            return total
        seen, last = set(ids), rows[-1][-1] if order is not None else None


def _delete(model: ModelBase, cond: Expression, order: Field | None = None) -> int:
    """Delete the rows matching cond, CHUNK at a time; return how many went."""
    return _chunked(
        model, cond, order, lambda ids: model.delete().where(model.id.in_(ids) & cond).execute()
    )


def _update(
    model: ModelBase, cond: Expression, values: Mapping[Field, Any], order: Field | None = None
) -> int:
    """Set values on the rows matching cond, CHUNK at a time; return how many changed.

    The values must make cond false for a row. The UPDATE repeats cond, so a row changed
    meanwhile by someone else (a dead message queued again) is left alone.
    """
    return _chunked(
        model,
        cond,
        order,
        lambda ids: model.update(dict(values)).where(model.id.in_(ids) & cond).execute(),
    )


def years_before(day: date, years: int) -> date:
    """The same day ``years`` years earlier (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def _latest_runs() -> list[int]:
    """The id of each job's latest run record, which `jobs` shows and catch-up reads."""
    return [i for (i,) in JobRun.select(fn.MAX(JobRun.id)).group_by(JobRun.job_id).tuples()]


def rules(now: datetime, settings: Settings) -> list[Rule]:
    """What the prune job deletes and clears as of now, in the order it runs them."""
    keep, ret = settings.scheduler, settings.retention
    sessions = now - timedelta(days=keep.keep_api_session_days)
    inbound = now - timedelta(days=keep.keep_inbound_days)
    runs = now - timedelta(days=ret.job_run_days)
    old_reads = ReadEntry.at < now - timedelta(days=settings.read_log.keep_days)
    return [
        Rule(
            "inbound_message",
            InboundMessage,
            InboundMessage.created_at < inbound,
            order=InboundMessage.created_at,
        ),
        Rule("rate_event", RateEvent, RateEvent.at < now - RATE_EVENT_KEEP),
        Rule(
            "api_session",
            ApiSession,
            ApiSession.expires_at < sessions,
            order=ApiSession.expires_at,
        ),
        # Console logins are used within minutes; a day later they only take space.
        Rule("console_login", ConsoleLogin, ConsoleLogin.expires_at < now - LOGIN_KEEP),
        # Console sessions: kept as long as the API's past their end (who logged in, when).
        Rule("console_session", ConsoleSession, ConsoleSession.expires_at < sessions),
        # A code can only be used before it expires: its expiry dates a used one too.
        Rule(
            "bind_code", BindCode, BindCode.expires_at < now - timedelta(days=ret.bind_code_days)
        ),
        Rule(
            "export_link",
            ExportLink,
            ExportLink.expires_at < now - timedelta(days=ret.export_link_days),
        ),
        Rule(
            "job_run",
            JobRun,
            (JobRun.started_at < runs) & JobRun.id.not_in(_latest_runs()),
            order=JobRun.started_at,
        ),
        # The read log (查阅记录): the members a read named first, then the read itself.
        Rule(
            "read_member",
            ReadMember,
            ReadMember.entry_id.in_(ReadEntry.select(ReadEntry.id).where(old_reads)),
        ),
        Rule("read_entry", ReadEntry, old_reads, order=ReadEntry.at),
        *_cleared(now, settings),
    ]


def _cleared(now: datetime, settings: Settings) -> list[Rule]:
    """The columns cleared in rows that stay: old reflections, finished messages' texts."""
    ret = settings.retention
    today = local_day(now, ZoneInfo(settings.app.timezone))
    texts = now - timedelta(days=ret.outbox_payload_days)
    out = OutboxMessage
    finished = ((out.status == "sent") & (out.sent_at < texts)) | out.status.in_(GIVEN_UP)
    return [
        Rule(
            "study_checkin.reflection",
            StudyCheckin,
            (StudyCheckin.day < years_before(today, ret.reflection_years))
            & (StudyCheckin.reflection != ""),
            {StudyCheckin.reflection: ""},
            StudyCheckin.day,
        ),
        Rule(
            "outbox_message.payload",
            out,
            out.pruned_at.is_null() & (out.created_at < texts) & finished,
            {out.payload: PRUNED_PAYLOAD, out.pruned_at: now},
            out.created_at,
        ),
    ]


def prune(now: datetime, settings: Settings, *, dry_run: bool = False) -> Pruned:
    """Delete what is no longer needed and clear reflections and message texts past their
    retention; with dry_run, only count them."""
    counts: dict[str, int] = {}
    cleared = set()
    for rule in rules(now, settings):
        if rule.values is not None:
            cleared.add(rule.kind)
        if dry_run:
            counts[rule.kind] = rule.model.select().where(rule.cond).count()
        elif rule.values is None:
            counts[rule.kind] = _delete(rule.model, rule.cond, rule.order)
        else:
            counts[rule.kind] = _update(rule.model, rule.cond, rule.values, rule.order)
    result = Pruned(counts, frozenset(cleared), dry_run)
    log.info("Pruned: %s", result)
    return result
