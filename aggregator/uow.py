"""The unit of work port: one transaction per use case, over the repositories.

A use case receives the unit of work unentered and opens it itself (`async with uow:`); what it
changed is stored only if it calls `commit()` before leaving the block, any other exit (an error
raised, a return without commit) discards it. vtn/db/uow.py implements it on SQLAlchemy,
tests/unit/aggregator/fakes.py in memory. A unit of work that was left may be entered again, a new
transaction (a planning run's dispatch works in several); never twice at once.

The repositories are read-only properties so that an implementation may hold its own
(more capable) repository classes: a property is covariant, a settable attribute would not be.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self

from aggregator.repositories import (
    ClientRepository,
    DispatchRepository,
    EventRepository,
    ImbalanceRepository,
    NotificationRepository,
    Oa3NotificationRepository,
    Oa3ObjectRepository,
    OptRepository,
    OutboxRepository,
    PreferenceRepository,
    PriceRepository,
    ProgramRepository,
    ReportRepository,
    RequestRepository,
    RunRepository,
    SolarRepository,
    StatementRepository,
    VenRepository,
    WebhookRepository,
)


class UnitOfWork(Protocol):
    @property
    def vens(self) -> VenRepository: ...

    @property
    def events(self) -> EventRepository: ...

    @property
    def opts(self) -> OptRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def prices(self) -> PriceRepository: ...

    @property
    def imbalance(self) -> ImbalanceRepository: ...

    @property
    def requests(self) -> RequestRepository: ...

    @property
    def runs(self) -> RunRepository: ...

    @property
    def preferences(self) -> PreferenceRepository: ...

    @property
    def dispatches(self) -> DispatchRepository: ...

    @property
    def notifications(self) -> NotificationRepository: ...

    @property
    def webhooks(self) -> WebhookRepository: ...

    @property
    def oa3_notifications(self) -> Oa3NotificationRepository: ...

    @property
    def solar(self) -> SolarRepository: ...

    @property
    def clients(self) -> ClientRepository: ...

    @property
    def oa3(self) -> Oa3ObjectRepository: ...

    @property
    def programs(self) -> ProgramRepository: ...

    @property
    def statements(self) -> StatementRepository: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Discards whatever was not committed."""
        ...

    async def commit(self) -> None: ...
