"""The one place the CLI opens a database connection: one per command, handlers own the rest.

A command runs its handler call and renders the answer inside ``connection()``, so lazy
attributes read while rendering (a meeting's branch, a member's name) find the connection
open; transactions stay the handlers' own.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from models.base import db


def connection() -> AbstractContextManager[Any]:
    """Open the database connection a command's handlers use; close it when the block ends."""
    return db.connection_context()
