"""Apply schema migrations from the migrations/ folder (peewee's migration runner)."""

from __future__ import annotations

import os

from peewee import Database
from playhouse.migrations import Runner

MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")


def runner(database: Database) -> Runner:
    """Return the migration runner bound to a real (not proxied) database."""
    return Runner(database, directory=MIGRATIONS_DIR)


def upgrade(database: Database) -> list[str]:
    """Apply every pending migration in order; return the names applied."""
    return runner(database).up()


def pending(database: Database) -> list[str]:
    """Return the names of migrations not yet applied."""
    return [m.name for m in runner(database).status() if m.applied is None and m.path]
