"""Errors the use cases raise on purpose; each edge maps them to its own codes.

REST (vtn/api/middleware.py): NotFound -> 404, Conflict -> 409, InvalidInput -> 422.
OpenADR (vtn/openadr/codes.py): NotFound -> 452 invalid ID, Unauthorized -> 463, ...
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a use case raises on purpose (anything else is a bug)."""


class NotFound(DomainError):
    """The named object (VEN, event, opt, report request) does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(DomainError):
    """The request contradicts stored state (duplicate name, overlapping event, ...)."""


class InvalidInput(DomainError):
    """A field has a value the VTN cannot accept."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Unauthorized(DomainError):
    """A VEN acts for an identity it does not hold (OpenADR 463)."""
