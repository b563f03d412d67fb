"""The use cases' errors (aggregator/errors.py), under the names the VTN's modules import.

The edges map them to HTTP status (vtn/api/middleware.py) or OpenADR codes (vtn/openadr/codes.py).
"""

from __future__ import annotations

from aggregator.errors import Conflict, InvalidInput, NotFound, Unauthorized
from aggregator.errors import DomainError as VtnError

__all__ = ["Conflict", "InvalidInput", "NotFound", "Unauthorized", "VtnError"]
