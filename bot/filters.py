"""Composable message filters: Text() & Command("学习", "打卡"), ~Bound(), Event("subscribe")."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from core.text import split_head

if TYPE_CHECKING:
    from bot.context import Context


class Filter(ABC):
    """A predicate on a Context; combine with &, | and ~."""

    @abstractmethod
    def check(self, ctx: Context) -> bool:
        """Tell whether the message in ctx passes."""

    def prefixes(self) -> frozenset[str] | None:
        """The words one of which a message must start with to pass: a text message, its text
        through ``core.text.command_head`` (``Context.head``). None when it may pass without.

        The dispatcher tries only the handlers whose prefixes the message starts with (and
        those without prefixes), in their order; a filter that names prefixes must therefore
        refuse every message that does not start with one, events included.
        """
        return None

    def __and__(self, other: Filter) -> Filter:
        return _All(self, other)

    def __or__(self, other: Filter) -> Filter:
        return _Any(self, other)

    def __invert__(self) -> Filter:
        return _Not(self)


class _All(Filter):
    def __init__(self, *parts: Filter) -> None:
        self.parts = parts

    def check(self, ctx: Context) -> bool:
        for part in self.parts:
            if not part.check(ctx):
                return False
        return True

    def prefixes(self) -> frozenset[str] | None:
        # Every part must pass: any part's prefixes are needed.
        for part in self.parts:
            found = part.prefixes()
            if found is not None:
                return found
        return None

    def __repr__(self) -> str:
        return " & ".join(map(repr, self.parts))


class _Any(Filter):
    def __init__(self, *parts: Filter) -> None:
        self.parts = parts

    def check(self, ctx: Context) -> bool:
        for part in self.parts:
            if part.check(ctx):
                return True
        return False

    def prefixes(self) -> frozenset[str] | None:
        # One part suffices: the union of every part's prefixes, if each has some.
        found: set[str] = set()
        for part in self.parts:
            more = part.prefixes()
            if more is None:
                return None
            found |= more
        return frozenset(found)

    def __repr__(self) -> str:
        return "(" + " | ".join(map(repr, self.parts)) + ")"


class _Not(Filter):
    def __init__(self, inner: Filter) -> None:
        self.inner = inner

    def check(self, ctx: Context) -> bool:
        return not self.inner.check(ctx)

    def __repr__(self) -> str:
        return f"~{self.inner!r}"


class Text(Filter):
    """Any text message."""

    def check(self, ctx: Context) -> bool:
        return ctx.incoming.kind == "text"

    def __repr__(self) -> str:
        return "Text()"


class Command(Filter):
    """Text that starts with one of the words; sets ctx.command and ctx.args."""

    def __init__(self, *words: str) -> None:
        self.words = words
        self.longest_first = sorted(words, key=len, reverse=True)

    def check(self, ctx: Context) -> bool:
        if ctx.incoming.kind != "text":
            return False
        found = split_head(ctx.head, self.longest_first)
        if found is None:
            return False
        ctx.command, ctx.args = found
        return True

    def prefixes(self) -> frozenset[str] | None:
        return frozenset(self.words)

    def __repr__(self) -> str:
        return f"Command{self.words!r}"


class Event(Filter):
    """An event of one of the given (lower-case) types."""

    def __init__(self, *events: str) -> None:
        self.events = events

    def check(self, ctx: Context) -> bool:
        return ctx.incoming.kind == "event" and ctx.incoming.event in self.events

    def __repr__(self) -> str:
        return f"Event{self.events!r}"


class Bound(Filter):
    """The sender's WeChat account is bound to a member of the roster."""

    def check(self, ctx: Context) -> bool:
        return ctx.member is not None

    def __repr__(self) -> str:
        return "Bound()"


class Role(Filter):
    """The bound member holds one of the roles."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    def check(self, ctx: Context) -> bool:
        return ctx.member is not None and ctx.member.has_role(*self.roles)

    def __repr__(self) -> str:
        return f"Role{self.roles!r}"


class Always(Filter):
    """Every message and event."""

    def check(self, ctx: Context) -> bool:
        return True

    def __repr__(self) -> str:
        return "Always()"
