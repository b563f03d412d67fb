"""What the use cases need from the outside world beside the database; the VTN implements these
(the poll notifier: vtn/services/poll_cache.py; the closed loop's executor: vtn/portfolio/loop.py,
its store and dispatcher: aggregator/loop_store.py and aggregator/dispatch.py over a unit of work)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from aggregator.inputs import PlanningInputs
from aggregator.report_value_rows import RequestOwner

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Schedule:
    """One home's dispatched schedule: its net import setpoint [kW] per slot from `start`."""

    ven_id: str
    site_id: str
    start: datetime
    resolution: timedelta
    setpoint_kw: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class Dispatched:
    ven_id: str
    event_id: str
    modification_number: int
    action: str  # created | modified | unchanged (already has this schedule) | failed
    message: str = ""


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    trigger: str
    started_at: datetime
    seconds: float
    status: str
    solver: str
    gap: float | None
    message: str | None
    inputs: dict[str, Any]
    plan: dict[str, Any] | None
    dispatch: dict[str, Any] | None


class PollNotifier(Protocol):
    """Tells this process's poll path what a use case changed, so that the next poll need not
    ask the database (other processes re-read it on their own)."""

    def mark_pending(self, ven_ids: Iterable[str]) -> None:
        """Messages were queued for these VENs."""
        ...

    def set_registration(self, ven_id: str, registration_id: str | None) -> None:
        """The VEN's registrationID changed (None: not registered)."""
        ...


class RecentPolls(Protocol):
    """The polls this process saw and has not written yet (poll times are written in batches),
    so that what operators see of a VEN is as fresh as its last poll."""

    def last_poll(self, ven_id: str) -> datetime | None:
        """When the VEN last polled, if after the time stored; None if no such poll is held."""
        ...


class ReportSink(Protocol):
    """Where a process that takes many reports writes their values: in group commits with other
    VENs' reports (vtn/services/report_writer.py), knowing the stored report requests by heart."""

    async def owner(self, report_request_id: str) -> RequestOwner | None:
        """The VEN, report name and rIDs of a stored report request; None when there is none."""
        ...

    async def write(self, rows: list[dict[str, Any]]) -> None:
        """Store value rows (already stored keys are skipped); returns once they are committed."""
        ...


class NullNotifier:
    """A PollNotifier for a process that serves no polls (the CLI): the VTN re-reads the database."""

    def mark_pending(self, ven_ids: Iterable[str]) -> None:
        pass

    def set_registration(self, ven_id: str, registration_id: str | None) -> None:
        pass


class LoopStore(Protocol):
    async def load_inputs(self, now: datetime) -> PlanningInputs: ...

    async def save_run(self, run: RunRecord) -> None: ...


class Dispatcher(Protocol):
    async def dispatch_all(
        self, schedules: Sequence[Schedule], run_id: str, now: datetime
    ) -> list[Dispatched]:
        """A run's schedules, one result per schedule in their order (one home's failure is its
        result, not an exception)."""
        ...

    async def release(self, ven_id: str, now: datetime) -> None:
        """Stop steering a home (cancel its dispatch event), e.g. when it is excluded."""
        ...


class Executor(Protocol):
    """Runs a blocking function off the event loop (a process or thread pool)."""

    async def __call__(self, fn: Callable[..., T], *args: Any) -> T: ...
