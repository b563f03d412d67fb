"""Length limits of the message fields the VTN stores or looks up, taken from the table columns.

The XSD leaves these strings unbounded. PostgreSQL refuses a value longer than its VARCHAR (the
transaction fails: a 500 before this check existed; found by tests/integration/fuzz), SQLite would
store it silently. So an over-long value is refused up front as INVALID_DATA, naming the field.
"""

from __future__ import annotations

from lxml import etree

from aggregator.resource_status import FIELD_PATH_MAX_LENGTH
from vtn.db.lengths import string_length
from vtn.errors import InvalidInput

# OpenADR element -> the (table, column) its value is stored in or looked up by.
_COLUMNS = {
    "venID": ("vens", "ven_id"),
    "venName": ("vens", "ven_name"),
    "registrationID": ("vens", "registration_id"),
    "eventID": ("events", "event_id"),
    "optID": ("opts", "opt_id"),
    "optReason": ("opts", "opt_reason"),
    "optType": ("opts", "opt_type"),
    "marketContext": ("opts", "market_context"),
    "reportRequestID": ("report_requests", "report_request_id"),
    "reportSpecifierID": ("report_registrations", "report_specifier_id"),
    "reportName": ("report_registrations", "report_name"),
    "responseCode": ("event_responses", "response_code"),
}

MAX_LENGTHS: dict[str, int] = {name: string_length(*column) for name, column in _COLUMNS.items()} | {
    # a field of a resource status is stored under its rID and the field's path, which must fit
    "rID": string_length("report_values", "r_id") - FIELD_PATH_MAX_LENGTH,
}


def check_lengths(message: etree._Element) -> None:
    """InvalidInput for the first limited field whose (stripped) text is longer than its column."""
    for element in message.iter(etree.Element):
        name = etree.QName(element).localname
        limit = MAX_LENGTHS.get(name)
        if limit is not None and element.text is not None and len(element.text.strip()) > limit:
            raise InvalidInput(name, f"longer than {limit} characters")
