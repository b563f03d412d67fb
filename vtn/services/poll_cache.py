"""What an empty oadrPoll needs, held in memory and backed by the database.

The database stays the truth: the cache is filled from it at start-up, told by every use case
that writes registrations or outbox rows in this process (it is their PollNotifier,
aggregator/ports.py: the edges pass the app's cache, vtn.keys.POLL_CACHE), told by another
instance's writes on PostgreSQL (notifications, vtn/services/leadership.py), and re-read every few
seconds in any case. Poll times are collected here and written
in batches (`flush_polls`), so a poll that finds nothing to deliver touches no database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from vtn.db.uow import Sessions

log = logging.getLogger(__name__)


class PollCache:
    """Registrations and "has pending outbox messages" per VEN, plus unsaved poll times.

    A VEN stays pending while a message it was sent is not acknowledged (at-least-once delivery),
    so its polls read the database until then (at most once per resend time while none is due).
    """

    def __init__(self) -> None:
        self.registrations: dict[str, str] = {}  # venID -> registrationID
        # venID -> (generation of the newest enqueue we know of, and when only sent, unacknowledged
        # messages wait: the time none is due before; None: poll the database)
        self._pending: dict[str, tuple[int, datetime | None]] = {}
        self._generation = 0
        self._polls: dict[str, datetime] = {}
        self._registration_changes = 0  # bumped on every local change, so a reload never undoes one

    # -- outbox -----------------------------------------------------------
    def mark_pending(self, ven_ids: Iterable[str]) -> None:
        for ven_id in ven_ids:
            self._generation += 1
            self._pending[ven_id] = (self._generation, None)

    def pending_generation(self, ven_id: str) -> int | None:
        pending = self._pending.get(ven_id)
        return None if pending is None else pending[0]

    def clear_pending(self, ven_id: str, generation: int) -> None:
        """Forget the VEN's pending flag unless something was enqueued after `generation` was read."""
        if self.pending_generation(ven_id) == generation:
            del self._pending[ven_id]

    def wait_until(self, ven_id: str, generation: int, at: datetime) -> None:
        """The VEN has messages sent and not yet acknowledged, none due again before `at`: polls
        until then are empty without a database read, unless something is enqueued meanwhile.
        (The VEN stays pending: a message is done only when acknowledged.)"""
        if self.pending_generation(ven_id) == generation:
            self._pending[ven_id] = (generation, at)

    def nothing_due(self, ven_id: str, generation: int, now: datetime) -> bool:
        pending = self._pending.get(ven_id)
        wait_until = pending[1] if pending is not None and pending[0] == generation else None
        return wait_until is not None and now < wait_until

    # -- registrations ----------------------------------------------------
    def set_registration(self, ven_id: str, registration_id: str | None) -> None:
        self._registration_changes += 1
        if registration_id is None:
            self.registrations.pop(ven_id, None)
        else:
            self.registrations[ven_id] = registration_id

    def forget_registration(self, ven_id: str) -> None:
        """Another instance changed the VEN's registration: its next message asks the database."""
        self._registration_changes += 1
        self.registrations.pop(ven_id, None)

    # -- poll times -------------------------------------------------------
    def record_poll(self, ven_id: str, at: datetime) -> None:
        self._polls[ven_id] = at

    def last_poll(self, ven_id: str) -> datetime | None:
        return self._polls.get(ven_id)

    def take_polls(self) -> dict[str, datetime]:
        polls, self._polls = self._polls, {}
        return polls

    # -- database ---------------------------------------------------------
    async def reload(self, sessions: Sessions) -> None:
        """Re-read registrations and pending outbox VENs (adds only, so no local write is lost)."""
        from vtn.db.uow import UnitOfWork

        changes = self._registration_changes
        async with UnitOfWork(sessions) as uow:
            registrations = await uow.vens.registrations()
            pending = await uow.outbox.pending_ven_ids()
        if changes == self._registration_changes:  # else a local write raced the read: next round
            self.registrations = registrations
        self.mark_pending(pending)

    async def flush_polls(self, sessions: Sessions) -> None:
        from vtn.db.uow import UnitOfWork

        polls = self.take_polls()
        if not polls:
            return
        try:
            async with UnitOfWork(sessions) as uow:
                await uow.vens.set_last_poll(polls)
                await uow.commit()
        except BaseException:
            # keep the times for the next flush rather than losing them (a cancelled periodic
            # flush too: the shutdown's flush writes them)
            for ven_id, at in polls.items():
                self._polls.setdefault(ven_id, at)
            raise
