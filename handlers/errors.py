"""Domain errors: a message in Chinese for the person, raised by use cases."""


class DomainError(Exception):
    """A use case refused the request; `message` says what went wrong and what to do.

    ``errcode`` is the stable name of the kind of refusal that the JSON API answers with
    (HTTP ``status``, 422 by default: the request was well formed but a rule refused it).
    """

    errcode = "rejected"
    status = 422

    def __init__(self, message: str, *, errcode: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if errcode is not None:
            self.errcode = errcode
        if status is not None:
            self.status = status
