"""Apply schema migrations from the migrations/ folder (peewee's migration runner)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from peewee import Database, PostgresqlDatabase, SqliteDatabase
from playhouse.migrations import Runner

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")
# The key of the PostgreSQL advisory lock that makes concurrent upgrades take turns.
UPGRADE_LOCK = 0x7A68_6962_7500  # "zhibu"


def runner(database: Database) -> Runner:
    """Return the migration runner bound to a real (not proxied) database."""
    return Runner(database, directory=MIGRATIONS_DIR)


def upgrade(database: Database) -> list[str]:
    """Apply every pending migration in order; return the names applied.

    Several processes may start at once and each run the upgrade (several hosts on one
    PostgreSQL, say): they take turns, and whoever comes second finds nothing left to apply.
    """
    with _one_at_a_time(database):
        return runner(database).up()


@contextmanager
def _one_at_a_time(database: Database) -> Iterator[None]:
    """PostgreSQL: a session advisory lock. SQLite: an exclusive lock on a file beside the
    database (every process that can open the file can lock its neighbour)."""
    if isinstance(database, PostgresqlDatabase):
        database.execute_sql("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK,))
        try:
            yield
        finally:
            database.execute_sql("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK,))
        return
    path = database.database if isinstance(database, SqliteDatabase) else ":memory:"
    if path == ":memory:" or path.startswith("file:"):
        yield
        return
    with open(f"{path}.upgrade-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def pending(database: Database) -> list[str]:
    """Return the names of migrations not yet applied."""
    return [m.name for m in runner(database).status() if m.applied is None and m.path]
