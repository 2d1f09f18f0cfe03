"""What the operator's tools ask of a running app: is the database answering (/healthz), and
the figures a metrics scrape reads from it (/metrics).

Both open their own connection, and a database that cannot be reached is an answer here,
not an error: the health check names the check that failed, the scrape says the database is
down and still serves the counters of the processes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import PeeweeException
from playhouse.pool import MaxConnectionsExceeded

from core.metrics import Snapshot
from handlers.jobs import current_holder
from handlers.outbox.listing import status_counts
from models.base import db, is_sqlite

log = logging.getLogger(__name__)

# Everything a database that is down, full or stuck raises through peewee.
DATABASE_ERRORS = (PeeweeException, MaxConnectionsExceeded)
# The outbox rows a scrape counts: waiting, being sent, given up. Sent and skipped rows are
# kept for good (they make a reminder once-only) and would make the count grow without end.
OUTBOX_DEPTH_STATUSES = ("pending", "sending", "dead")
# PostgreSQL's query_canceled (statement_timeout) and lock_not_available (lock_timeout).
PG_TIMEOUTS = frozenset({"57014", "55P03"})
OK = "ok"


@dataclass(frozen=True)
class Health:
    """Each check by name: "ok", or a short reason it failed (the details go to the log)."""

    checks: dict[str, str]

    @property
    def ok(self) -> bool:
        return all(result == OK for result in self.checks.values())


def check_health(timeout_seconds: int) -> Health:
    """Check the database: a connection and a trivial query, each within ``timeout_seconds``
    (PostgreSQL's connect_timeout is database.connect_timeout; SQLite opens a local file and
    waits for a lock at most database.lock_timeout)."""
    return Health({"database": _database_check(timeout_seconds)})


def _database_check(timeout_seconds: int) -> str:
    opened = db.is_closed()
    try:
        db.connect(reuse_if_open=True)
    except DATABASE_ERRORS as exc:
        log.warning("health check: cannot connect to the database: %s", exc)
        return "cannot connect"
    try:
        if is_sqlite():
            db.execute_sql("SELECT 1").fetchone()
        else:
            with db.atomic():
                db.execute_sql(
                    "SELECT set_config('statement_timeout', %s, true)",
                    (str(timeout_seconds * 1000),),
                )
                db.execute_sql("SELECT 1").fetchone()
    except DATABASE_ERRORS as exc:
        log.warning("health check: the database did not answer: %s", exc)
        return f"timed out after {timeout_seconds} s" if _timed_out(exc) else "query failed"
    finally:
        if opened and not db.is_closed():
            db.close()
    return OK


def _timed_out(exc: BaseException) -> bool:
    """Tell a statement stopped by a timeout (or a lock held too long) from other failures."""
    seen = [exc, exc.__cause__, exc.__context__, *(exc.args[:1])]
    for err in seen:
        if getattr(err, "pgcode", None) in PG_TIMEOUTS:
            return True
        if isinstance(err, BaseException) and "database is locked" in str(err):
            return True
    return False


def metrics_snapshot(now: datetime) -> Snapshot:
    """The scrape's figures from the database: the outbox rows waiting, being sent or dead
    (one grouped query on the status index) and the scheduler holding the lease (one row)."""
    opened = db.is_closed()
    try:
        db.connect(reuse_if_open=True)
        outbox = status_counts(OUTBOX_DEPTH_STATUSES)
        holder = current_holder(now)
    except DATABASE_ERRORS as exc:
        log.warning("metrics: the database did not answer: %s", exc)
        return Snapshot(database_up=False)
    finally:
        if opened and not db.is_closed():
            db.close()
    return Snapshot(database_up=True, outbox=outbox, lease_holder=holder)
