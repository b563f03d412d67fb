"""One unit of work per use case: leaving the block without `commit()` rolls back."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vtn.db.repositories import (
    EventRepository,
    OptRepository,
    OutboxRepository,
    ReportRepository,
    VenRepository,
)


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
