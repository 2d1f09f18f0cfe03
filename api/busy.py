"""A busy database inside an API request: try the request again briefly, then answer 503.

Another writer holding the database past ``database.lock_timeout`` makes a statement fail with
SQLite's "database is locked", or PostgreSQL's lock timeout, deadlock or serialization failure.
Such a failure is transient: the request runs again, up to ``api.busy_attempts`` times in all,
as long as it has committed nothing yet (running again a request that already wrote could write
twice, or spend a single-use login code twice). Then the answer is 503 with ``Retry-After``.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from peewee import OperationalError
from playhouse.pool import MaxConnectionsExceeded

from models.base import commits

log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs worth another try: serialization_failure, deadlock_detected,
# lock_not_available (lock_timeout).
PG_TRANSIENT = frozenset({"40001", "40P01", "55P03"})
SQLITE_LOCKED = ("database is locked", "database table is locked")
BUSY_ERRCODE = "busy"
BUSY_MESSAGE = "系统繁忙，请 {seconds} 秒后重试。"
# Pause before attempt n + 1: PAUSE_SECONDS * n (the lock wait itself is database.lock_timeout).
PAUSE_SECONDS = 0.05


def is_transient(exc: BaseException) -> bool:
    """Tell whether a failure is a lock or serialization conflict that may pass on its own."""
    if isinstance(exc, MaxConnectionsExceeded):  # every pooled connection is taken
        return True
    seen: list[BaseException] = [exc]
    if exc.args and isinstance(exc.args[0], BaseException):  # peewee wraps the driver's error
        seen.append(exc.args[0])
    seen += [e for e in (exc.__cause__, exc.__context__) if e is not None]
    for err in seen:
        if getattr(err, "pgcode", None) in PG_TRANSIENT:
            return True
        if isinstance(err, (OperationalError, sqlite3.OperationalError)) and any(
            text in str(err) for text in SQLITE_LOCKED
        ):
            return True
    return False


def retry_after() -> int:
    return current_app.config["ZHIBU"].api.busy_retry_after_seconds


def retrying(view: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an API view: a transient database failure runs it again while it has written
    nothing, up to api.busy_attempts in all; the last failure propagates (answered 503)."""

    @functools.wraps(view)
    def run(*args: Any, **kwargs: Any) -> Any:
        attempts = current_app.config["ZHIBU"].api.busy_attempts
        written_before = commits()
        attempt = 1
        while True:
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                wrote = commits() != written_before
                log.warning(
                    "database busy, attempt %d/%d of %s %s%s: %s",
                    attempt,
                    attempts,
                    request.method,
                    request.path,
                    " (it wrote already: not run again)" if wrote else "",
                    exc,
                )
                if wrote or attempt >= attempts:
                    raise
            time.sleep(PAUSE_SECONDS * attempt)
            attempt += 1

    return run
