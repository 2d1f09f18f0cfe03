"""Count the SQL statements a block of code runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from models.base import db


@contextmanager
def counting_queries(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Count the SQL statements the bound database runs inside the block."""
    seen: list[str] = []
    original = db.obj.execute_sql

    def counting(sql: str, params: Any = None) -> Any:
        seen.append(sql)
        return original(sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(db.obj, "execute_sql", counting)
        yield seen
