"""Route an Incoming to the first matching handler, in ordered groups, with one error hook.

The transport knows no feature: the commands are registered from bot/routes.py, and the
sender's member comes from the lookups handed to the Dispatcher there (one of them also reads
whether the message was answered already), and so does the hook that notes a member's
activity.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.context import Context, MemberLookup, SenderLookup
from bot.filters import Filter
from bot.incoming import Incoming
from core.config import Settings
from handlers.errors import DomainError
from models.base import write_tx

log = logging.getLogger(__name__)

BUSY_REPLY = "系统繁忙，请稍后再试。"

Callback = Callable[["Context"], "str | None"]
ErrorHook = Callable[["Context", BaseException], None]
ActivityHook = Callable[[Any, datetime], None]
Finish = Callable[["str | None"], None]


@dataclass(frozen=True)
class Handler:
    """Check + handle: `filter` decides, `callback` answers (None = nothing to say)."""

    name: str
    filter: Filter
    callback: Callback
    # One line for the 帮助 menu, and who sees it: "member", "manager" (branch managers),
    # "collector" (managers and dues collectors), "unbound" (accounts not bound yet), or ""
    # for nobody.
    help: str = ""
    audience: str = "member"


class Dispatcher:
    """Ordered groups of handlers; the first handler whose filter matches answers.

    Text is routed by its first words: each handler whose filter names prefixes (the command
    words) is indexed by them, so a message is checked only against the handlers indexed by a
    start of its text and those without prefixes (events, the gate, the fallback), in the
    order of registration, with the same first match as checking every handler in turn.
    """

    def __init__(
        self,
        member_lookup: MemberLookup,
        note_activity: ActivityHook,
        sender_lookup: SenderLookup,
    ) -> None:
        self._groups: dict[int, list[Handler]] = {}
        self._ordered: tuple[Handler, ...] = ()  # every handler in matching order
        self._by_prefix: dict[str, tuple[int, ...]] = {}  # word -> positions in _ordered
        self._unindexed: tuple[int, ...] = ()  # positions of handlers without prefixes
        self._longest = 0  # the longest prefix, in characters
        self._error_hooks: list[ErrorHook] = []
        self.member_lookup = member_lookup
        self.sender_lookup = sender_lookup
        # Called with (member, now) in the message's write transaction, for a bound sender.
        self.note_activity = note_activity

    def context(self, incoming: Incoming, settings: Settings, now: datetime) -> Context:
        """Return the Context a message is dispatched with (its member looked up on demand)."""
        return Context(incoming, settings, now, member_lookup=self.member_lookup)

    def read_ahead(self, ctx: Context, dedupe_key: str) -> tuple[str | None] | None:
        """Before the write lock: the sender's member (kept in ``ctx``) and the reply stored
        for the message's dedupe key (a one-tuple), or None when it was not answered yet."""
        member, prior = self.sender_lookup(ctx.incoming.openid, dedupe_key)
        ctx.know_member(member)
        return prior

    def add(self, handler: Handler, group: int = 0) -> None:
        if any(h.name == handler.name for h in self.handlers()):
            raise ValueError(f"handler {handler.name!r} registered twice")
        self._groups.setdefault(group, []).append(handler)
        self._ordered = tuple(h for g in sorted(self._groups) for h in self._groups[g])
        by_prefix: dict[str, list[int]] = {}
        unindexed = []
        for position, known in enumerate(self._ordered):
            prefixes = known.filter.prefixes()
            if prefixes is None:
                unindexed.append(position)
            for word in prefixes or ():
                by_prefix.setdefault(word, []).append(position)
        self._by_prefix = {word: tuple(found) for word, found in by_prefix.items()}
        self._unindexed = tuple(unindexed)
        self._longest = max(map(len, by_prefix), default=0)

    def on_error(self, hook: ErrorHook) -> None:
        self._error_hooks.append(hook)

    def handlers(self) -> list[Handler]:
        return list(self._ordered)

    def candidates(self, ctx: Context) -> list[Handler]:
        """The handlers that may match the message, in matching order."""
        positions = self._unindexed
        if ctx.incoming.kind == "text":
            head = ctx.head
            by_prefix = self._by_prefix
            found = [
                position
                for size in range(min(len(head), self._longest) + 1)
                for position in by_prefix.get(head[:size], ())
            ]
            if found:
                positions = tuple(sorted(set(found).union(positions)))
        return [self._ordered[position] for position in positions]

    def match(self, ctx: Context) -> Handler | None:
        for handler in self.candidates(ctx):
            if handler.filter.check(ctx):
                return handler
        return None

    def dispatch(self, ctx: Context, finish: Finish) -> str | None:
        """Run the matching handler, then ``finish(reply)`` (the caller's own writes), in one
        write transaction; return the reply (None: nothing to say).

        A handler that raises writes nothing: a refusal (DomainError) or a crash rolls that
        transaction back whole, and ``finish`` runs with the refusal's text (or BUSY_REPLY,
        after the error hooks) in a new one. No savepoint is paid for in the common case.
        """
        try:
            with write_tx():
                reply = self._answer(ctx)
                finish(reply)
            return reply
        except _Undo as undo:
            reply, crash = undo.reply, undo.crash
        if crash is not None:
            for hook in self._error_hooks or [_log_error]:
                try:
                    hook(ctx, crash)
                except Exception:  # noqa: BLE001 - a failing hook must not hide the reply
                    log.exception("error hook failed")
        with write_tx():
            finish(reply)
        return reply

    def _answer(self, ctx: Context) -> str | None:
        """The matching handler's reply; _Undo if it raised."""
        handler = self.match(ctx)
        if handler is None:
            return None
        try:
            return handler.callback(ctx)
        except DomainError as exc:
            raise _Undo(exc.in_chat) from exc
        except Exception as exc:  # noqa: BLE001 - the error hook is the one place that decides
            raise _Undo(BUSY_REPLY, exc) from exc


class _Undo(Exception):
    """The handler raised: roll its transaction back and answer ``reply`` instead."""

    def __init__(self, reply: str, crash: BaseException | None = None) -> None:
        super().__init__(reply)
        self.reply = reply
        self.crash = crash  # None for a refusal (DomainError)


def _log_error(ctx: Context, exc: BaseException) -> None:
    log.error(
        "handler failed for openid=%s kind=%s event=%s",
        ctx.incoming.openid,
        ctx.incoming.kind,
        ctx.incoming.event,
        exc_info=exc,
    )


# Groups, lowest first. Within a group, registration order decides.
GROUP_EVENTS = 0  # follow, scan, menu clicks: anyone may trigger them
GROUP_PUBLIC = 10  # commands open to unbound accounts: 绑定, 帮助
GROUP_GATE = 20  # an unbound account asking for anything else gets the binding instructions
GROUP_MEMBER = 30  # commands of bound members
GROUP_FALLBACK = 90  # unknown text gets a one-line hint
