"""A VEN's oadrCreateReport for reportSpecifierID METADATA is answered by sending the VTN's
oadrRegisterReport again (issue 16: it was 452). Any other report of the VTN is still 452."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from .harness import Reply, Vtn
from .helpers import drain, provision_and_register


def _request(request_id: str, specifier: str) -> dict[str, Any]:
    return {
        "report_request_id": request_id,
        "report_specifier": {
            "report_specifier_id": specifier,
            "granularity": timedelta(0),
            "report_back_duration": timedelta(0),
            "specifier_payloads": [{"r_id": "all", "reading_type": "x-notApplicable"}],
        },
    }


async def create_report(vtn: Vtn, ven_id: str, *specifiers: str) -> Reply:
    requests = [_request(f"vtn-rr-{n}", s) for n, s in enumerate(specifiers)]
    return await vtn.send(
        "EiReport", "oadrCreateReport", request_id="cr-1", ven_id=ven_id, report_requests=requests
    )


@pytest.mark.db_backends("sqlite")
async def test_a_metadata_request_resends_the_vtns_register_report(vtn: Vtn) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-meta")
    reply = await create_report(vtn, ven_id, "METADATA")
    assert reply.message_type == "oadrCreatedReport"
    assert reply.code == 200, reply.body
    assert reply.text("ei:eiResponse/pyld:requestID") == "cr-1"
    [again] = await drain(vtn, ven_id)
    assert again.message_type == "oadrRegisterReport"
    assert again.text("ei:venID") == ven_id


@pytest.mark.db_backends("sqlite")
@pytest.mark.parametrize("specifiers", [("TELEMETRY_USAGE",), ("METADATA", "vtn-prices")])
async def test_any_other_report_of_the_vtn_is_452_and_queues_nothing(
    vtn: Vtn, specifiers: tuple[str, ...]
) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-meta-2")
    reply = await create_report(vtn, ven_id, *specifiers)
    assert reply.message_type == "oadrCreatedReport" and reply.code == 452
    assert repr(specifiers[-1]) in (reply.text("ei:eiResponse/ei:responseDescription") or "")
    assert await drain(vtn, ven_id) == []
