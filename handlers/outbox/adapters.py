"""What the drain asks of a channel adapter, and the error an adapter raises.

The adapters themselves (WeCom robot and app, template and subscribe messages, the console)
speak HTTP and live with the front doors (bot/channels.py); whoever starts a drain hands them
in as ``Adapters``: a mapping from a channel kind (``Address.channel``) to a factory that builds
the adapter from the settings. The drain builds one adapter per kind and sender thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from core.config import Settings
from handlers.outbox.routing import Address

Payload = Mapping[str, Any]


class ChannelError(Exception):
    """A send failed; ``retryable`` tells whether a later attempt may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        errcode: int | None = None,
        notice: str | None = None,
        rate_limited: bool = False,
    ) -> None:
        """Keep an English message without secrets, and the Chinese notice for the secretary."""
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.errcode = errcode
        self.notice = notice
        self.rate_limited = rate_limited


class Adapter(Protocol):
    """One channel kind: turns a payload into wire messages and sends them one at a time."""

    def messages(self, payload: Payload, address: Address) -> list[dict[str, Any]]:
        """Return the wire messages for a payload (several when it must be split)."""
        ...

    def post(self, message: dict[str, Any], address: Address) -> None:
        """Send one wire message; raise ChannelError when it was not accepted."""
        ...


Adapters = Mapping[str, Callable[[Settings], Adapter]]


def build_adapter(adapters: Adapters, kind: str, settings: Settings) -> Adapter:
    """Return a new adapter of ``kind``; ChannelError (permanent) for a kind nobody handles."""
    factory = adapters.get(kind)
    if factory is None:
        raise ChannelError(
            f"unknown channel kind {kind!r}", retryable=False, notice="未知的通知渠道"
        )
    return factory(settings)
