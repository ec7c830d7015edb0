"""The exceptions of the service: each bad request is one kind, with its HTTP status."""

from __future__ import annotations


class ServiceError(ValueError):
    """The service cannot be built or called as asked; the message says what to do."""


class ServiceInputError(ServiceError):
    """A request the service refuses: its ``status`` (4xx) and ``kind`` go into the JSON error.

    Attributes:
        status: the HTTP status the service answers with (400, 413, 415 or 422).
        kind: a short machine-readable name, e.g. ``"corrupt_image"``.
    """

    def __init__(self, message: str, *, status: int = 422, kind: str = "bad_input"):
        super().__init__(message)
        self.status = int(status)
        self.kind = kind


class TerminologyError(ServiceError):
    """A language or code the terminology table does not hold."""
