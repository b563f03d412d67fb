"""Length limits of the message fields the VTN stores or looks up, taken from the table columns.

The XSD leaves these strings unbounded. PostgreSQL refuses a value longer than its VARCHAR (the
transaction fails: a 500 before this check existed; found by tests/integration/fuzz), SQLite would
store it silently. So an over-long value is refused up front as INVALID_DATA, naming the field.
"""

from __future__ import annotations

from lxml import etree
from sqlalchemy import String

from vtn.db import tables
from vtn.errors import InvalidInput

_COLUMNS = {
    "venID": tables.Ven.ven_id,
    "venName": tables.Ven.ven_name,
    "registrationID": tables.Ven.registration_id,
    "eventID": tables.Event.event_id,
    "optID": tables.Opt.opt_id,
    "optReason": tables.Opt.opt_reason,
    "optType": tables.Opt.opt_type,
    "marketContext": tables.Opt.market_context,
    "reportRequestID": tables.ReportRequest.report_request_id,
    "reportSpecifierID": tables.ReportRegistration.report_specifier_id,
    "reportName": tables.ReportRegistration.report_name,
    "rID": tables.ReportValue.r_id,
    "responseCode": tables.EventResponse.response_code,
}


def _length(column: object) -> int:
    kind = column.type  # type: ignore[attr-defined]
    assert isinstance(kind, String) and kind.length, f"{column} has no length"
    return int(kind.length)


MAX_LENGTHS: dict[str, int] = {name: _length(column) for name, column in _COLUMNS.items()}


def check_lengths(message: etree._Element) -> None:
    """InvalidInput for the first limited field whose (stripped) text is longer than its column."""
    for element in message.iter(etree.Element):
        name = etree.QName(element).localname
        limit = MAX_LENGTHS.get(name)
        if limit is not None and element.text is not None and len(element.text.strip()) > limit:
            raise InvalidInput(name, f"longer than {limit} characters")
