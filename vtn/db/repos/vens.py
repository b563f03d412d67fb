"""VENs: provisioning, registration, what authenticates them, when they last polled."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aggregator.records import VenCredentials, VenRecord
from vtn.db.repos import Seen, utc
from vtn.db.tables import Ven, as_utc

_CREDENTIALS = (Ven.ven_id, Ven.ven_name, Ven.fingerprint, Ven.xml_signatures)


def ven_record(row: Ven) -> VenRecord:
    return VenRecord(
        ven_id=row.ven_id,
        ven_name=row.ven_name,
        site_id=row.site_id,
        created_at=utc(row.created_at),
        fingerprint=row.fingerprint,
        registration_id=row.registration_id,
        registered_at=as_utc(row.registered_at),
        profile_name=row.profile_name,
        transport_name=row.transport_name,
        report_only=row.report_only,
        xml_signature=row.xml_signature,
        xml_signatures=row.xml_signatures,
        http_pull_model=row.http_pull_model,
        last_poll_at=as_utc(row.last_poll_at),
    )


def _columns(record: VenRecord) -> dict[str, Any]:
    return asdict(record)


class VenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._seen: Seen[str, VenRecord] = Seen()

    def _record(self, row: Ven) -> VenRecord:
        return self._seen.remember(row.ven_id, row, ven_record(row))

    async def get(self, ven_id: str) -> VenRecord | None:
        row = await self.session.get(Ven, ven_id)
        return None if row is None else self._record(row)

    async def by_name(self, ven_name: str) -> VenRecord | None:
        row = await self.session.scalar(select(Ven).where(Ven.ven_name == ven_name))
        return None if row is None else self._record(row)

    def add(self, ven: VenRecord) -> None:
        row = Ven(**_columns(ven))
        self.session.add(row)
        self._seen.remember(ven.ven_id, row, ven)

    async def save(self, ven: VenRecord) -> None:
        """Write what changed on the VEN since this unit of work read it."""
        await self._seen.save(self.session, Ven, ven.ven_id, ven, _columns)

    async def all(self) -> list[VenRecord]:
        query = select(Ven).order_by(Ven.created_at, Ven.ven_id)
        return [self._record(row) for row in await self.session.scalars(query)]

    async def registered(self) -> list[VenRecord]:
        """Every VEN that is registered now."""
        query = select(Ven).where(Ven.registration_id.is_not(None)).order_by(Ven.ven_id)
        return [self._record(row) for row in await self.session.scalars(query)]

    async def of_site(self, site_id: str) -> list[VenRecord]:
        """The site's VENs, the newest (created_at, then venID) first."""
        query = select(Ven).where(Ven.site_id == site_id).order_by(Ven.created_at.desc(), Ven.ven_id.desc())
        return [self._record(row) for row in await self.session.scalars(query)]

    async def remove(self, ven_id: str) -> bool:
        """Delete the VEN; the database cascades to everything stored of it."""
        result = await self.session.execute(
            delete(Ven).where(Ven.ven_id == ven_id).execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def existing_ids(self, ven_ids: Iterable[str]) -> set[str]:
        wanted = list(ven_ids)
        rows = await self.session.execute(select(Ven.ven_id).where(Ven.ven_id.in_(wanted)))
        return set(rows.scalars().all())

    async def registrations(self) -> dict[str, str]:
        """venID -> registrationID of every registered VEN."""
        rows = await self.session.execute(
            select(Ven.ven_id, Ven.registration_id).where(Ven.registration_id.is_not(None))
        )
        return {ven_id: reg_id for ven_id, reg_id in rows.all() if reg_id is not None}

    async def credentials(self) -> list[VenCredentials]:
        """What authenticates each VEN (four columns of every row: read for thousands of VENs)."""
        rows = await self.session.execute(select(*_CREDENTIALS))
        return [VenCredentials(*row) for row in rows.all()]

    async def credentials_of(
        self, ven_id: str | None = None, ven_name: str | None = None
    ) -> VenCredentials | None:
        """What authenticates the VEN with this venID (else this venName); None if unknown."""
        which = Ven.ven_id == ven_id if ven_id is not None else Ven.ven_name == ven_name
        row = (await self.session.execute(select(*_CREDENTIALS).where(which))).first()
        return None if row is None else VenCredentials(*row)

    async def set_last_poll(self, polls: dict[str, datetime]) -> None:
        """One executemany UPDATE by primary key for the whole batch."""
        if polls:
            rows = [{"ven_id": ven_id, "last_poll_at": at} for ven_id, at in polls.items()]
            await self.session.execute(update(Ven), rows)
