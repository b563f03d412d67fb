"""Reading incoming OpenADR XML safely: a hardened lxml parser, the 2.0b XSD, typed field access.

Entities are never resolved, nothing is fetched, DTDs are neither loaded nor accepted (any
DOCTYPE is refused, which stops "billion laughs" and XXE), and huge trees are refused.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openleadr
from lxml import etree
from openleadr.utils import parse_duration

NS = {
    "oadr": "http://openadr.org/oadr-2.0b/2012/07",
    "ei": "http://docs.oasis-open.org/ns/energyinterop/201110",
    "pyld": "http://docs.oasis-open.org/ns/energyinterop/201110/payloads",
    "xcal": "urn:ietf:params:xml:ns:icalendar-2.0",
    "strm": "urn:ietf:params:xml:ns:icalendar-2.0:stream",
    "emix": "http://docs.oasis-open.org/ns/emix/2011/06",
    "power": "http://docs.oasis-open.org/ns/emix/2011/06/power",
}
OADR = "{" + NS["oadr"] + "}"

SCHEMA_PATH = Path(openleadr.__file__).parent / "schema" / "oadr_20b.xsd"

log = logging.getLogger(__name__)


class MalformedMessage(Exception):
    """The body is not a well-formed, schema-valid OpenADR 2.0b payload."""


def _parser(with_schema: etree.XMLSchema | None = None) -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        collect_ids=False,
        schema=with_schema,
    )


_SCHEMA: etree.XMLSchema | None = None
_VALIDATING_PARSER: etree.XMLParser | None = None


def schema() -> etree.XMLSchema:
    """openleadr's OpenADR 2.0b XSD, loaded once (from local files only)."""
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = etree.XMLSchema(etree.parse(str(SCHEMA_PATH), _parser()))
    return _SCHEMA


def _validating_parser() -> etree.XMLParser:
    """The hardened parser that also validates against the XSD while it parses (one pass)."""
    global _VALIDATING_PARSER
    if _VALIDATING_PARSER is None:
        _VALIDATING_PARSER = _parser(schema())
    return _VALIDATING_PARSER


_PLAIN_PARSER: etree.XMLParser | None = None


def _plain_parser() -> etree.XMLParser:
    """The hardened parser without the XSD (for the lenient second look below)."""
    global _PLAIN_PARSER
    if _PLAIN_PARSER is None:
        _PLAIN_PARSER = _parser()
    return _PLAIN_PARSER


# Older VENs write `schemaVersion="2.0b"` without its namespace (on oadrPayload, oadrSignedObject
# or the message), which the XSD refuses: it knows only ei:schemaVersion, on the message. With the
# setting accept_unqualified_schema_version, parse_payload forgives that (and only that).
_SCHEMA_VERSION = "schemaVersion"
_EI_SCHEMA_VERSION = "{" + NS["ei"] + "}schemaVersion"


def _signed_object(root: etree._Element) -> etree._Element | None:
    signed = root[0] if len(root) else None  # the XSD allows a ds:Signature before it
    if signed is not None and signed.tag != f"{OADR}oadrSignedObject":
        signed = root.find(f"{OADR}oadrSignedObject")
    return signed


def _with_unqualified_schema_version(body: bytes) -> etree._Element | None:
    """The payload as sent, when an unqualified schemaVersion is all the XSD refuses in it; else None.

    The XSD checks a copy with the attribute moved to ei:schemaVersion on the message (so its value
    is still checked) and dropped elsewhere. The original is returned: an XML signature covers
    the message as the VEN sent it."""
    try:
        root = etree.fromstring(body, _plain_parser())
    except etree.XMLSyntaxError:
        return None
    signed = _signed_object(root)
    if signed is None or len(signed) == 0:
        return None
    fixed = copy.deepcopy(root)
    fixed_signed = _signed_object(fixed)
    assert fixed_signed is not None
    carriers = [e for e in (fixed, fixed_signed, fixed_signed[0]) if _SCHEMA_VERSION in e.attrib]
    if not carriers:
        return None
    for element in carriers:
        value = element.attrib.pop(_SCHEMA_VERSION)
        if element is fixed_signed[0] and _EI_SCHEMA_VERSION not in element.attrib:
            element.set(_EI_SCHEMA_VERSION, value)
    if not schema().validate(fixed):
        return None
    names = ", ".join(etree.QName(e).localname for e in carriers)
    log.warning(
        "accepted an unqualified schemaVersion on %s of a %s (accept_unqualified_schema_version)",
        names,
        etree.QName(signed[0]).localname,
    )
    return root


def parse_payload(body: bytes, accept_unqualified_schema_version: bool = False) -> tuple[str, etree._Element]:
    """The message type (e.g. 'oadrPoll') and its element, from a schema-valid oadrPayload
    (or one whose only fault is an unqualified schemaVersion, when `accept_unqualified_schema_version`)."""
    # Refuse declarations before the parser sees them: no entity is ever defined, let alone expanded.
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise MalformedMessage("DOCTYPE and ENTITY declarations are not accepted")
    try:
        root = etree.fromstring(body, _validating_parser())
    except etree.XMLSyntaxError as err:
        lenient = accept_unqualified_schema_version and _SCHEMA_VERSION.encode() in body
        found = _with_unqualified_schema_version(body) if lenient else None
        if found is None:
            raise MalformedMessage(f"not a well-formed, valid OpenADR 2.0b payload: {err}") from err
        root = found
    if root.getroottree().docinfo.doctype:
        raise MalformedMessage("DOCTYPE declarations are not accepted")
    signed = _signed_object(root)
    if signed is None or len(signed) == 0:
        raise MalformedMessage("the payload carries no oadrSignedObject")
    message = signed[0]
    return etree.QName(message).localname, message


@functools.lru_cache(maxsize=512)
def clark(path: str) -> str:
    """`ei:venID/pyld:x` as `{uri}venID/{uri}x`: lxml caches such paths, not prefixed ones."""
    return re.sub(r"([A-Za-z]+):([A-Za-z][\w.-]*)", _clark_name, path)


def _clark_name(match: re.Match[str]) -> str:
    prefix, name = match.group(1), match.group(2)
    return "{" + NS[prefix] + "}" + name if prefix in NS else match.group(0)


def text(element: etree._Element, path: str) -> str | None:
    """The stripped text at `path` (an XPath with the NS prefixes), or None."""
    found = element.find(clark(path))
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def texts(element: etree._Element, path: str) -> list[str]:
    return [e.text.strip() for e in element.findall(clark(path)) if e.text and e.text.strip()]


def parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.strip())
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_seconds(value: str) -> int:
    duration: timedelta = parse_duration(value.strip())
    return int(duration.total_seconds())


def parse_bool(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1")
