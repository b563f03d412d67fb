"""Errors raised by the VTN's service layer; the edges map them to HTTP status or OpenADR codes.

REST: NotFound -> 404, Conflict -> 409, InvalidInput -> 422.
OpenADR: see vtn/openadr/codes.py (NotFound -> 452 invalid ID, Unauthorized -> 463).
"""

from __future__ import annotations


class VtnError(Exception):
    """Base of every error the service layer raises on purpose."""


class NotFound(VtnError):
    """The named object (VEN, event, opt, report request) does not exist."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {key!r} not found")
        self.kind = kind
        self.key = key


class Conflict(VtnError):
    """The request contradicts stored state (duplicate name, overlapping event, ...)."""


class InvalidInput(VtnError):
    """A field has a value the VTN cannot accept."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Unauthorized(VtnError):
    """A VEN acts for an identity it does not hold (OpenADR 463)."""
