"""The poll cache's bookkeeping: an enqueue that races a poll is never forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from vtn.services.poll_cache import PollCache


def test_clear_pending_keeps_a_flag_raised_after_the_read() -> None:
    cache = PollCache()
    cache.mark_pending(["v1"])
    seen = cache.pending_generation("v1")
    assert seen is not None
    cache.mark_pending(["v1"])  # a new message while the poll looked at the outbox
    cache.clear_pending("v1", seen)
    assert cache.pending_generation("v1") is not None
    cache.clear_pending("v1", cache.pending_generation("v1"))  # type: ignore[arg-type]
    assert cache.pending_generation("v1") is None


def test_registrations_and_polls() -> None:
    cache = PollCache()
    cache.set_registration("v1", "r1")
    assert cache.registrations == {"v1": "r1"}
    cache.set_registration("v1", None)
    assert cache.registrations == {}
    at = datetime(2030, 1, 1, tzinfo=UTC)
    cache.record_poll("v1", at)
    assert cache.last_poll("v1") == at
    assert cache.take_polls() == {"v1": at}
    assert cache.take_polls() == {}
