"""Domain errors: a message in Chinese for the person, raised by use cases."""


class DomainError(Exception):
    """A use case refused the request; `message` says what went wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
