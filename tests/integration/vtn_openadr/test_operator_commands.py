"""An operator's REST command reaches a polling VEN (issue 16): oadrRequestReregistration,
oadrCreateReport with the reportRequestIDs the REST reply named, oadrCancelReport naming the
request. The REST contract (404, 403, 422) is tested in tests/integration/vtn_api/test_ven_commands.py."""

from __future__ import annotations

from typing import Any

from vtn.api.tokens import create_token

from .harness import Vtn
from .helpers import drain, provision_and_register
from .test_reports import register_reports, requests_of


async def operator(vtn: Vtn, db_url: str, method: str, path: str, **kwargs: Any) -> Any:
    """Call /api/v1 as an operator; the reply must be 202 Accepted."""
    token = await create_token(db_url, "operator")
    headers = {"Authorization": f"Bearer {token}"}
    async with vtn.client.request(method, f"/api/v1{path}", headers=headers, **kwargs) as resp:
        assert resp.status == 202, await resp.text()
        return await resp.json()


async def test_a_reregistration_request_reaches_the_ven(vtn: Vtn, db_url: str) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-op-rr")
    await operator(vtn, db_url, "POST", f"/vens/{ven_id}/reregistration")
    [message] = await drain(vtn, ven_id)
    assert message.message_type == "oadrRequestReregistration"
    assert message.text("ei:venID") == ven_id


async def test_cancelled_and_requested_reports_reach_the_ven(vtn: Vtn, db_url: str) -> None:
    ven_id, _ = await provision_and_register(vtn, "ven-op-reports")
    usage = requests_of(await register_reports(vtn, ven_id))["spec-usage"]["id"]

    await operator(vtn, db_url, "DELETE", f"/vens/{ven_id}/report-requests/{usage}")
    accepted = await operator(
        vtn, db_url, "POST", f"/vens/{ven_id}/report-requests", json={"granularity_seconds": 30}
    )

    cancel, create = await drain(vtn, ven_id)
    assert cancel.message_type == "oadrCancelReport"
    assert cancel.text("ei:reportRequestID") == usage
    assert create.message_type == "oadrCreateReport"
    requested = requests_of(create)
    assert set(requested) == {"spec-usage"}, "the other offered reports are still requested"
    assert [r["id"] for r in requested.values()] == accepted["report_request_ids"]
    assert requested["spec-usage"]["granularity"] == "PT30S"
    assert requested["spec-usage"]["r_ids"] == ["power", "energy"]
