"""One unit of work per use case: leaving the block without `commit()` rolls back."""

from __future__ import annotations

from datetime import datetime
from types import TracebackType

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.repos import insert_on_conflict
from vtn.db.repos.events import EventRepository
from vtn.db.repos.nonces import NonceRepository
from vtn.db.repos.notifications import NotificationRepository, WebhookRepository
from vtn.db.repos.oa3_notifications import Oa3NotificationRepository
from vtn.db.repos.openadr3 import ClientRepository, Oa3ObjectRepository
from vtn.db.repos.opts import OptRepository
from vtn.db.repos.outbox import OutboxRepository
from vtn.db.repos.portfolio import (
    DispatchRepository,
    ImbalanceRepository,
    PriceRepository,
    RequestRepository,
    RunRepository,
)
from vtn.db.repos.preferences import PreferenceRepository
from vtn.db.repos.reports import ReportRepository
from vtn.db.repos.settlement import ProgramRepository, StatementRepository
from vtn.db.repos.solar import SolarRepository
from vtn.db.repos.tokens import TokenRepository
from vtn.db.repos.vens import VenRepository
from vtn.db.tables import HealthCheck

# What services and edges hold to open units of work (typed here, so they need no SQLAlchemy import).
Sessions = async_sessionmaker[AsyncSession]


class UnitOfWork:
    """`async with UnitOfWork(sessions) as uow: ...; await uow.commit()`."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> UnitOfWork:
        session = self._sessions()
        self._session = session
        self.vens = VenRepository(session)
        self.outbox = OutboxRepository(session)
        self.events = EventRepository(session)
        self.opts = OptRepository(session)
        self.reports = ReportRepository(session)
        self.tokens = TokenRepository(session)
        self.nonces = NonceRepository(session)
        self.prices = PriceRepository(session)
        self.imbalance = ImbalanceRepository(session)
        self.requests = RequestRepository(session)
        self.runs = RunRepository(session)
        self.dispatches = DispatchRepository(session)
        self.preferences = PreferenceRepository(session)
        self.notifications = NotificationRepository(session)
        self.webhooks = WebhookRepository(session)
        self.solar = SolarRepository(session)
        self.clients = ClientRepository(session)
        self.oa3 = Oa3ObjectRepository(session)
        self.programs = ProgramRepository(session)
        self.statements = StatementRepository(session)
        self.oa3_notifications = Oa3NotificationRepository(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        # close() rolls back whatever was not committed and detaches the loaded rows
        # without expiring them, so services can still read what they loaded.
        try:
            await self._session.close()
        finally:
            self._session = None

    @property
    def session(self) -> AsyncSession:
        assert self._session is not None, "use the unit of work inside `async with`"
        return self._session

    async def commit(self) -> None:
        await self.session.commit()

    async def flush(self) -> None:
        await self.session.flush()

    async def ping(self) -> None:
        """One round trip to the database; raises vtn.db.errors.DatabaseError when it does not answer."""
        await self.session.execute(text("SELECT 1"))

    async def check_writable(self, vtn_id: str, now: datetime) -> None:
        """Write and commit one row (the VTN's health_checks row); raises
        vtn.db.errors.DatabaseError when the database cannot take a write (a full disk, a read-only
        database or replica), which a SELECT would not show."""
        upsert = insert_on_conflict(self.session)(HealthCheck).values(vtn_id=vtn_id, checked_at=now)
        await self.session.execute(
            upsert.on_conflict_do_update(index_elements=["vtn_id"], set_={"checked_at": now})
        )
        await self.session.commit()
