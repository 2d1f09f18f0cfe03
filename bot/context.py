"""What a bot command gets: the message, settings, the clock and the sender's member."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.incoming import Incoming
from core.clock import utcnow
from core.config import Settings
from core.text import command_head

# Who the sender is: openid -> their member, or None. The dispatcher is handed this at
# registration (bot/routes.py), so the transport knows no feature.
MemberLookup = Callable[[str], Any]
# Who the sender is and what this message was answered already, in one read before the write
# lock: (openid, dedupe key) -> (their member or None, the stored reply as a one-tuple or None).
SenderLookup = Callable[[str, str], "tuple[Any, tuple[str | None] | None]"]


@dataclass
class Context:
    """The message, settings, the clock and the sender's member (looked up once, on demand)."""

    incoming: Incoming
    settings: Settings
    now: datetime = field(default_factory=utcnow)
    command: str = ""
    args: str = ""
    member_lookup: MemberLookup = field(kw_only=True, repr=False)
    _member: Any = field(default=None, repr=False)
    _member_loaded: bool = field(default=False, repr=False)
    _head: str | None = field(default=None, repr=False)

    @functools.cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.settings.app.timezone)

    @property
    def head(self) -> str:
        """The text where command words are looked for (``core.text.command_head``), once."""
        if self._head is None:
            self._head = command_head(self.incoming.text)
        return self._head

    @property
    def member(self) -> Any:
        """Return the member bound to the sender's account, looked up once."""
        if not self._member_loaded:
            self._member = self.member_lookup(self.incoming.openid)
            self._member_loaded = True
        return self._member

    def know_member(self, member: Any) -> None:
        """Take the sender's member as looked up already (None: the account is not bound)."""
        self._member = member
        self._member_loaded = True

    def forget_member(self) -> None:
        """Drop the cached member (after binding or unbinding)."""
        self._member_loaded = False
        self._member = None
