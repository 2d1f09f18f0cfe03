"""The drain: claim due rows, route them, send each through its channel's adapter, record.

One row goes through four steps, each one short write transaction at most:

    claim (a batch) -> route (the batch) -> per part: pace (``begin_part``) -> the adapter's
    ``post`` -> record (``record_part`` / ``mark_sent``, or ``mark_failed`` / ``defer`` / ``skip``)

Rows are grouped in lanes (one robot key, one member, ...): a lane is sent in order by one
thread, and held back as a whole when its robot must wait. Robots are paced per key through
the database, so drainers in several processes together stay under the limit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from core.clock import utcnow
from core.config import Settings
from core.metrics import OUTBOX_ROWS, OUTBOX_SEND_SECONDS
from handlers.outbox.adapters import Adapter, Adapters, ChannelError, build_adapter
from handlers.outbox.pacing import begin_part, prune_rate_events, rest_bucket
from handlers.outbox.routing import NO_CREDIT, Address, Skip, resolve_addresses
from handlers.outbox.states import (
    claim,
    defer,
    forget_credits,
    mark_failed,
    mark_sent,
    next_due,
    record_part,
    skip,
)
from models.base import db
from models.outbox import OutboxMessage

log = logging.getLogger(__name__)

Lane = list[tuple[OutboxMessage, Address]]


@dataclass
class DrainReport:
    """What one drain call did: rows sent, failed (to retry), dead, deferred and skipped."""

    sent: int = 0
    failed: int = 0
    dead: int = 0
    deferred: int = 0  # put back without counting an attempt (rate window, 45009, time up)
    skipped: int = 0  # nowhere to send (no channel, no subscribe credit)

    def __str__(self) -> str:
        return (
            f"sent {self.sent}, failed {self.failed}, dead {self.dead}, "
            f"deferred {self.deferred}, skipped {self.skipped}"
        )


class Clock:
    """The drain's time: ``now`` (aware UTC) and ``sleep``; real time, optionally shifted."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = (start - utcnow()) if start is not None else timedelta(0)

    def now(self) -> datetime:
        return utcnow() + self._offset

    def sleep(self, seconds: float) -> None:
        time.sleep(max(seconds, 0.0))


# Called at each step of a send: "claimed" (the row is claimed), "answered" (the channel
# answered, nothing recorded yet), "recorded" (the outcome is committed). For tests that kill
# the process at each step; None in production.
Hook = Callable[[str, OutboxMessage], None]


class _Drain:
    """One drain call: the batch loop, the lanes and the per-row send."""

    def __init__(
        self,
        settings: Settings,
        adapters: Adapters,
        clock: Clock,
        deadline: datetime,
        hook: Hook | None,
    ) -> None:
        self.settings = settings
        self.adapters = adapters
        self.clock = clock
        self.deadline = deadline
        self.hook = hook
        self.report = DrainReport()
        self._lock = threading.Lock()
        self._local = threading.local()

    def count(self, **deltas: int) -> None:
        with self._lock:
            for name, value in deltas.items():
                setattr(self.report, name, getattr(self.report, name) + value)
        for name, value in deltas.items():
            if value:
                OUTBOX_ROWS.labels(name).inc(value)

    def step(self, name: str, row: OutboxMessage) -> None:
        if self.hook is not None:
            self.hook(name, row)

    def adapter(self, kind: str) -> Adapter:
        """Return this thread's adapter of ``kind`` (HTTP sessions are not shared by threads)."""
        cache = getattr(self._local, "adapters", None)
        if cache is None:
            cache = self._local.adapters = {}
        if kind not in cache:
            cache[kind] = build_adapter(self.adapters, kind, self.settings)
        return cache[kind]

    # -- the loop --

    def run(self) -> DrainReport:
        prune_rate_events(self.clock.now(), self.settings)
        batch_size = self.settings.outbox.batch_size
        while True:
            now = self.clock.now()
            if now >= self.deadline:
                break
            rows = claim(now, batch_size, self.settings)
            if rows:
                for row in rows:
                    self.step("claimed", row)
                self.run_batch(rows)
                continue
            due = next_due(now, self.settings)
            if due is None or due >= self.deadline:
                break
            self.clock.sleep((due - now).total_seconds())
        return self.report

    def lanes(self, rows: list[OutboxMessage]) -> list[Lane]:
        """Route a batch: skip the rows with nowhere to go, group the others in lanes."""
        addresses = resolve_addresses(rows, self.settings)
        lanes: dict[str, Lane] = {}
        for row in rows:
            address = addresses[row.id]
            if isinstance(address, Skip):
                if skip(row, address.reason, self.clock.now()):
                    self.count(skipped=1)
                    log.info("Outbox row %s (%s) skipped: %s", row.id, row.kind, address.reason)
                continue
            lanes.setdefault(address.lane, []).append((row, address))
        return list(lanes.values())

    def run_batch(self, rows: list[OutboxMessage]) -> None:
        lanes = self.lanes(rows)
        workers = min(self.settings.outbox.concurrency, len(lanes))
        if workers <= 1:
            for lane in lanes:
                self.run_lane(lane)
            return
        work: queue.SimpleQueue[Lane] = queue.SimpleQueue()
        for lane in lanes:
            work.put(lane)

        def worker() -> None:
            with db.connection_context():  # each thread its own connection
                while True:
                    try:
                        lane = work.get_nowait()
                    except queue.Empty:
                        return
                    self.run_lane(lane)

        threads = [
            threading.Thread(target=worker, name=f"outbox-drain-{n}", daemon=True)
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def run_lane(self, lane: Lane) -> None:
        """Send one lane's rows in order; hold the rest back when the lane must wait."""
        for index, (row, address) in enumerate(lane):
            now = self.clock.now()
            if now >= self.deadline:
                self.count(deferred=defer([r for r, _ in lane[index:]], now))
                return
            try:
                hold_until = self.send_row(row, address)
            except Exception:  # noqa: BLE001 - one bad row must not stop the drain
                log.exception("Outbox row %s (%s): unexpected error", row.id, row.kind)
                hold_until = None
                self.internal_error(row)
            if hold_until is not None:
                rest = [r for r, _ in lane[index + 1 :]]
                self.count(deferred=defer(rest, hold_until))
                return

    def internal_error(self, row: OutboxMessage) -> None:
        """Record a row whose send broke unexpectedly as a failed attempt."""
        try:
            status = mark_failed(row, "internal error", self.clock.now(), self.settings)
            self.count(**{"dead" if status == "dead" else "failed": 1})
        except Exception:  # noqa: BLE001 - the claim times out and the row is retried
            log.exception("Outbox row %s: could not record the failure", row.id)

    # -- one row --

    def send_row(self, row: OutboxMessage, address: Address) -> datetime | None:
        """Send every part of a row not yet sent and record the outcome.

        Returns when the rest of the lane may go on: None at once, or a time to hold it until
        (the robot's window is full, the robot said 45009, or a transient failure).
        """
        try:
            adapter = self.adapter(address.channel)
            parts = adapter.messages(row.data, address)
        except (ChannelError, ValueError) as exc:
            return self.failed(row, address, exc, None)
        total = len(parts)
        if row.parts_sent >= total:
            if mark_sent(row, self.clock.now(), channel=address.channel, parts=total):
                self.count(sent=1)
            return None
        for index in range(row.parts_sent, total):
            grant = begin_part(row, address, self.clock.now(), self.settings)
            if not grant.go:
                return self.held(row, address, grant.lost, grant.no_credit, grant.wait)
            started = time.perf_counter()
            try:
                adapter.post(parts[index], address)
            except ChannelError as exc:
                _timed(address.channel, "error", started)
                self.step("answered", row)
                return self.failed(row, address, exc, grant.rate_event_id)
            _timed(address.channel, "ok", started)
            self.step("answered", row)
            self.record(row, address, index + 1, total, grant.rate_event_id)
            self.step("recorded", row)
        return None

    def held(
        self, row: OutboxMessage, address: Address, lost: bool, no_credit: bool, wait: float
    ) -> datetime | None:
        """Act on a part that may not go now: the row was lost, has no credit, or must wait."""
        if lost:
            log.warning("Outbox row %s was taken over by another drainer", row.id)
            return None
        if no_credit:
            if skip(row, NO_CREDIT, self.clock.now(), channel=address.channel):
                self.count(skipped=1)
            return None
        until = self.clock.now() + timedelta(seconds=wait)
        self.count(deferred=defer([row], until))
        return until

    def record(
        self,
        row: OutboxMessage,
        address: Address,
        parts_sent: int,
        total: int,
        rate_event_id: int | None,
    ) -> None:
        """Record an accepted part: the progress of a split message, or the row as sent."""
        now = self.clock.now()
        if parts_sent < total:
            record_part(row, parts_sent, now, rate_event_id=rate_event_id)
        elif mark_sent(
            row, now, channel=address.channel, parts=total, rate_event_id=rate_event_id
        ):
            self.count(sent=1)
            log.info("Outbox row %s (%s) sent to %s", row.id, row.kind, address.label)

    def failed(
        self,
        row: OutboxMessage,
        address: Address,
        exc: Exception,
        rate_event_id: int | None,
    ) -> datetime | None:
        """Record a failed send; return when the lane may go on (None: at once)."""
        now = self.clock.now()
        if isinstance(exc, ChannelError) and exc.rate_limited and address.rate_bucket:
            until = now + timedelta(seconds=exc.retry_after or 0.0)
            rest_bucket(address.rate_bucket, until, self.settings)
            log.warning("Robot %s answered 45009; resting it until %s", address.label, until)
            self.count(deferred=defer([row], until))
            return until
        if (
            isinstance(exc, ChannelError)
            and exc.errcode == 43101
            and address.channel == "subscribe"
        ):
            forget_credits(address.target, address.template_id, now)
            if skip(row, f"{exc} (no subscribe credit left)", now, channel=address.channel):
                self.count(skipped=1)
            return None
        status = mark_failed(
            row, exc, now, self.settings, rate_event_id=rate_event_id, channel=address.channel
        )
        if status == "dead":
            self.count(dead=1)
        elif status == "pending":
            self.count(failed=1)
            if getattr(exc, "retryable", True):
                return row.next_attempt_at
        return None


def _timed(channel: str, result: str, started: float) -> None:
    """Record how long one part's send took (for /metrics)."""
    OUTBOX_SEND_SECONDS.labels(channel, result).observe(time.perf_counter() - started)


def drain(
    settings: Settings,
    adapters: Adapters,
    now: datetime | None = None,
    *,
    max_seconds: float | None = None,
    clock: Clock | None = None,
    hook: Hook | None = None,
) -> DrainReport:
    """Send due outbox rows until none is due within the time budget; report what happened.

    ``adapters`` maps each channel kind to a factory of its adapter (bot.channels.ADAPTERS).
    ``now`` shifts the drain's clock (it still advances in real time); ``max_seconds``
    (default ``outbox.drain_max_seconds``) bounds the call, waits for robots' rate windows
    included, to about that plus the sends of the rows already started (each part up to the
    connect and read timeouts: a late answer is waited for, never abandoned). Rows claimed
    but not reached in time are put back at once. The scheduler runs it on its own thread,
    one at a time: a drain waiting for WeChat delays no other job. Uses the caller's
    connection or opens its own; sender threads (``outbox.concurrency``) open one each.
    """
    clock = clock or Clock(now)
    budget = settings.outbox.drain_max_seconds if max_seconds is None else max_seconds
    deadline = clock.now() + timedelta(seconds=budget)
    runner = _Drain(settings, adapters, clock, deadline, hook)
    if db.is_closed():
        with db.connection_context():
            return runner.run()
    return runner.run()
