"""The OpenADR 3.1 face's storage: OAuth2 clients and tokens, and the 3.1 objects."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.openadr3_records import (
    AccessTokenRecord,
    ClientRecord,
    ClientRole,
    Oa3Object,
    ObjectType,
    Scope,
)
from vtn.db.repos import utc
from vtn.db.tables import Oa3Client, Oa3ObjectRow, Oa3Token, as_utc


def _client(row: Oa3Client) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        secret_hash=row.secret_hash,
        role=ClientRole(row.role),
        created_at=utc(row.created_at),
        ven_name=row.ven_name,
        revoked_at=as_utc(row.revoked_at),
    )


class ClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, client: ClientRecord) -> None:
        self.session.add(
            Oa3Client(
                client_id=client.client_id,
                secret_hash=client.secret_hash,
                role=client.role.value,
                ven_name=client.ven_name,
                created_at=client.created_at,
                revoked_at=client.revoked_at,
            )
        )

    async def get(self, client_id: str) -> ClientRecord | None:
        row = await self.session.get(Oa3Client, client_id, populate_existing=True)
        return None if row is None else _client(row)

    async def save(self, client: ClientRecord) -> None:
        await self.session.execute(
            update(Oa3Client)
            .where(Oa3Client.client_id == client.client_id)
            .values(ven_name=client.ven_name, revoked_at=client.revoked_at)
            .execution_options(synchronize_session=False)
        )

    async def of_ven_name(self, ven_name: str) -> list[ClientRecord]:
        query = (
            select(Oa3Client)
            .where(Oa3Client.ven_name == ven_name)
            .order_by(Oa3Client.created_at, Oa3Client.client_id)
        )
        return [_client(row) for row in await self.session.scalars(query)]

    def add_token(self, token: AccessTokenRecord) -> None:
        self.session.add(
            Oa3Token(
                token_hash=token.token_hash,
                client_id=token.client_id,
                scopes=[s.value for s in token.scopes],
                created_at=token.created_at,
                expires_at=token.expires_at,
            )
        )

    async def token(self, token_hash: str) -> AccessTokenRecord | None:
        row = await self.session.get(Oa3Token, token_hash)
        if row is None:
            return None
        return AccessTokenRecord(
            token_hash=row.token_hash,
            client_id=row.client_id,
            scopes=tuple(Scope(s) for s in row.scopes if s in Scope.__members__.values()),
            created_at=utc(row.created_at),
            expires_at=utc(row.expires_at),
        )

    async def prune_tokens(self, before: datetime) -> int:
        result = await self.session.execute(
            delete(Oa3Token).where(Oa3Token.expires_at < before).execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


def _object(row: Oa3ObjectRow) -> Oa3Object:
    return Oa3Object(
        object_type=ObjectType(row.object_type),
        object_id=row.object_id,
        created_at=utc(row.created_at),
        modified_at=utc(row.modified_at),
        body=dict(row.body),
        client_id=row.client_id,
        ven_id=row.ven_id,
        program_id=row.program_id,
        event_id=row.event_id,
        name=row.name,
        unique_key=row.unique_key,
        market_context=row.market_context,
    )


def _columns(obj: Oa3Object) -> dict[str, Any]:
    return {
        "client_id": obj.client_id,
        "ven_id": obj.ven_id,
        "program_id": obj.program_id,
        "event_id": obj.event_id,
        "name": obj.name,
        "unique_key": obj.unique_key,
        "market_context": obj.market_context,
        "body": obj.body,
        "modified_at": obj.modified_at,
    }


class Oa3ObjectRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, obj: Oa3Object) -> None:
        self.session.add(
            Oa3ObjectRow(
                object_type=obj.object_type.value,
                object_id=obj.object_id,
                created_at=obj.created_at,
                **_columns(obj),
            )
        )

    async def get(self, object_type: ObjectType, object_id: str) -> Oa3Object | None:
        row = await self.session.get(Oa3ObjectRow, (object_type.value, object_id), populate_existing=True)
        return None if row is None else _object(row)

    async def get_many(self, object_type: ObjectType, object_ids: Sequence[str]) -> dict[str, Oa3Object]:
        if not object_ids:
            return {}
        query = select(Oa3ObjectRow).where(
            Oa3ObjectRow.object_type == object_type.value, Oa3ObjectRow.object_id.in_(list(object_ids))
        )
        return {row.object_id: _object(row) for row in await self.session.scalars(query)}

    async def save(self, obj: Oa3Object) -> None:
        await self.session.execute(
            update(Oa3ObjectRow)
            .where(Oa3ObjectRow.object_type == obj.object_type.value, Oa3ObjectRow.object_id == obj.object_id)
            .values(**_columns(obj))
            .execution_options(synchronize_session=False)
        )

    async def remove(self, object_type: ObjectType, object_id: str) -> bool:
        result = await self.session.execute(
            delete(Oa3ObjectRow)
            .where(Oa3ObjectRow.object_type == object_type.value, Oa3ObjectRow.object_id == object_id)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def find(
        self,
        object_type: ObjectType,
        *,
        ven_id: str | None = None,
        program_id: str | None = None,
        event_id: str | None = None,
        client_id: str | None = None,
        unique_key: str | None = None,
        market_context: str | None = None,
    ) -> list[Oa3Object]:
        query = select(Oa3ObjectRow).where(Oa3ObjectRow.object_type == object_type.value)
        given = {
            Oa3ObjectRow.ven_id: ven_id,
            Oa3ObjectRow.program_id: program_id,
            Oa3ObjectRow.event_id: event_id,
            Oa3ObjectRow.client_id: client_id,
            Oa3ObjectRow.unique_key: unique_key,
            Oa3ObjectRow.market_context: market_context,
        }
        for column, value in given.items():
            if value is not None:
                query = query.where(column == value)
        query = query.order_by(Oa3ObjectRow.created_at, Oa3ObjectRow.object_id)
        return [_object(row) for row in await self.session.scalars(query)]
