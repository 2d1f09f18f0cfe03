"""Refusals raised by use cases: a message in Chinese for the person, and a stable errcode.

Each kind of refusal is a subclass; the front doors decide what it becomes (api/errors maps
each to an HTTP status, the bot replies with the message). Handlers know nothing of HTTP.
"""


class DomainError(Exception):
    """A use case refused the request; `message` says what went wrong and what to do.

    ``errcode`` names the kind of refusal for programs (the JSON API answers with it).
    ``chat_hint`` is what to do next in words of the bot's commands (“请发送……”): the bot
    adds it to the message, the API and the console leave it out, since their users act on a
    page instead. Raise one of the subclasses below; a plain DomainError is a rule's refusal.
    """

    errcode = "rejected"

    def __init__(self, message: str, *, errcode: str | None = None, chat_hint: str = ""):
        super().__init__(message)
        self.message = message
        self.chat_hint = chat_hint
        if errcode is not None:
            self.errcode = errcode

    @property
    def in_chat(self) -> str:
        """The refusal as the bot replies it: the message and the command to send next."""
        return self.message + self.chat_hint


class Refused(DomainError):
    """The request was understood, but a rule of the organization refuses it."""


class Invalid(DomainError):
    """The input itself is wrong (a field missing, malformed or out of range)."""

    errcode = "invalid_field"


class NotFound(DomainError):
    """Nothing of that id or name exists, or the caller may not know that it does."""

    errcode = "not_found"


class Forbidden(DomainError):
    """The caller's role does not allow this."""

    errcode = "forbidden"


class Conflict(DomainError):
    """The records changed: already done, decided by someone else, or pending."""

    errcode = "conflict"


class TooMany(DomainError):
    """Too many attempts in a while; try again later."""

    errcode = "rate_limited"
