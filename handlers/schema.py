"""The database schema: apply pending migrations and report which are applied."""

from __future__ import annotations

from typing import Any

from models.base import db
from models.migrate import runner, upgrade


def upgrade_schema() -> list[str]:
    """Apply every pending migration; return the names applied, oldest first."""
    return upgrade(db.obj)


def schema_status() -> list[Any]:
    """Every migration with its `name` and `applied` (when, or None for pending)."""
    return list(runner(db.obj).status())
