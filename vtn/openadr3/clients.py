"""`flexvpp client create`: an OAuth2 client of the 3.1 face, its secret shown once."""

from __future__ import annotations

from datetime import UTC, datetime

from aggregator.openadr3_auth import NewClient, create_client
from aggregator.openadr3_records import ClientRole
from vtn.db.engine import open_database
from vtn.db.uow import UnitOfWork


async def cli_create_client(db_url: str, role: str, ven_name: str | None) -> NewClient:
    async with open_database(db_url) as sessions:
        return await create_client(UnitOfWork(sessions), ClientRole(role), datetime.now(UTC), ven_name)
