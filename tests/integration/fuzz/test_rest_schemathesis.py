"""schemathesis against the served `/api/v1/openapi.json` (issue 6, item 3).

For every operation, schemathesis generates requests from the document, valid (positive) and
invalid (negative) ones, and checks each reply with its standard checks: no 5xx, a documented
status, a documented content type, a schema-valid body, invalid data refused. On top: a refused
request (4xx) changes no stored row. The operator token and a provisioned VEN with an event give
the generated IDs something to hit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis_profiles import examples
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from sqlalchemy import select

from vtn.db import tables

from .conftest import TOKEN_NAME
from .live import LiveVtn, changed_tables

# Examples per operation and generation mode: every operation of the document x 2 modes x this.
# Schema-valid data may still get 422: the API checks what JSON Schema cannot say (times within
# 2000..2200, `since` before `until`, no overlap with stored events) and names the field in a 422.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            }
        }
    }
)
EXAMPLES = int(os.environ.get("FLEXVPP_FUZZ_REST_EXAMPLES", examples(5)))  # per operation and mode
API = "/api/v1"


async def _token_id(sessions: Any) -> int:
    async with sessions() as session:
        found = await session.scalar(select(tables.ApiToken.id).where(tables.ApiToken.name == TOKEN_NAME))
    assert found is not None
    return int(found)


def _run_operation(
    live: LiveVtn, operation: Any, mode: GenerationMode, headers: dict[str, str], token_id: int
) -> None:
    http = requests.Session()
    last: dict[str, Any] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # Revoking the test's own token would turn the rest of the run into 401s.
        assume(str((case.path_parameters or {}).get("token_id")) != str(token_id))
        before = last.pop("snapshot", None) or live.snapshot()
        response = case.call(base_url=f"{live.url}{API}", session=http, headers=headers)
        case.validate_response(response, headers=headers)
        if 400 <= response.status_code < 500:
            after = live.snapshot()
            assert not changed_tables(before, after), (case.method, case.formatted_path, response.text)
            last["snapshot"] = after  # a refusal changed nothing: it is the next request's "before"

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (an operation without parameters or body, like /health).
        if mode is not GenerationMode.NEGATIVE:
            raise
    finally:
        http.close()


# On PostgreSQL alone: the routes are the subject, and production's database is where a fuzzed value
# can break a query (it refuses what SQLite stores: a NUL in a string, an integer beyond 64 bits).
# The same routes on SQLite are the route and validation tests' (tests/integration/vtn_api).
@pytest.mark.db_backends("postgresql")
@pytest.mark.slow
def test_rest_api_against_its_openapi_document(
    rest_vtn: tuple[LiveVtn, str], caplog: pytest.LogCaptureFixture
) -> None:
    live, token = rest_vtn
    headers = {"Authorization": f"Bearer {token}"}
    token_id = live.run(_token_id(live.sessions))
    schema = schemathesis.openapi.from_url(f"{live.url}{API}/openapi.json", config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _run_operation(live, operation, mode, headers, token_id)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and r.name.startswith("vtn")]
    assert not errors, [r.getMessage() for r in errors]
