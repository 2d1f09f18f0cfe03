"""Which front door a piece of work came through (the bot, the API, the console, the command
line, a scheduled job): set by each door around its handler call, read by the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

DOORS = ("bot", "api", "console", "cli", "job")

# The command line sets nothing: work done outside a request or a job is the operator's.
DOOR: ContextVar[str] = ContextVar("zhibu_door", default="cli")


@contextmanager
def through(door: str) -> Iterator[None]:
    """Run the block as work that came through ``door``."""
    if door not in DOORS:
        raise ValueError(f"unknown door: {door}")
    token = DOOR.set(door)
    try:
        yield
    finally:
        DOOR.reset(token)


def current_door() -> str:
    """The door the current work came through."""
    return DOOR.get()
