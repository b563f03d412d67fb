"""A VTN whose database connections are all taken answers 503 with Retry-After, in one log line.

Thousands of VENs registering at once (flexvpp bench load, 20,000 VENs) used to hold every pooled
connection; each request that then waited out the pool's timeout got a 500 and left a traceback.
PostgreSQL only: the pool limits are PostgreSQL's (SQLite keeps one writer anyway).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text

from vtn.app import CLOCK, create_app
from vtn.keys import ENGINE, SESSIONS
from vtn.settings import VtnSettings

from .harness import FakeClock, Vtn
from .helpers import REGISTRATION, create_registration, provision

pytestmark = pytest.mark.db_backends("postgresql")
XML_CONTENT = {"Content-Type": "application/xml"}


def busy_body() -> bytes:
    from openleadr.messaging import create_message

    payload = {**REGISTRATION, "ven_id": None, "registration_id": None}
    return create_message(  # type: ignore[no-any-return]
        "oadrCreatePartyRegistration", request_id="req-2", ven_name="ven-busy", **payload
    ).encode()


@pytest.fixture
async def one_connection_vtn(db_url: str, aiohttp_client: Any) -> AsyncIterator[Vtn]:
    settings = VtnSettings.model_validate(
        {"db_url": db_url, "db_pool_size": 1, "db_pool_overflow": 0, "db_pool_timeout_seconds": 0.3}
    )
    app = create_app(settings)
    app[CLOCK] = FakeClock()  # type: ignore[misc]
    client = await aiohttp_client(app)
    yield Vtn(client, app[CLOCK], app[SESSIONS], settings)


async def test_no_free_connection_is_503_with_retry_after_and_no_traceback(
    one_connection_vtn: Vtn, caplog: pytest.LogCaptureFixture
) -> None:
    vtn = one_connection_vtn
    await provision(vtn, "ven-busy")
    engine = vtn.client.app[ENGINE]
    with caplog.at_level(logging.INFO):
        async with engine.connect() as held:  # the pool's only connection
            await held.execute(text("SELECT 1"))
            busy = await create_registration(vtn, "ven-busy")
            raw = await vtn.client.post(
                "/OpenADR2/Simple/2.0b/EiRegisterParty", data=busy_body(), headers=XML_CONTENT
            )
    assert raw.status == 503 and raw.headers["Retry-After"] == "5"
    assert busy.status == 503
    assert busy.message_type == "oadrResponse" and busy.code == 469
    assert "busy" in (busy.text("ei:eiResponse/ei:responseDescription") or "")
    # one warning line per refused request; neither they nor the background jobs that found the
    # pool empty meanwhile (webhook rounds, the loop's state) leave a traceback
    refused = [r for r in caplog.records if "no database connection free" in r.getMessage()]
    assert [r.levelno for r in refused] == [logging.WARNING, logging.WARNING]
    assert not [r for r in caplog.records if r.exc_info], "a busy pool is not a failure to trace"
    # the connection is back: the VEN that tries again registers
    again = await create_registration(vtn, "ven-busy")
    assert again.status == 200 and again.code == 200
