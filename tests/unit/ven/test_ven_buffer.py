"""The on-disk telemetry buffer: oldest first, no duplicates, nothing lost while the VTN is away."""

from __future__ import annotations

from pathlib import Path

from ven.agent.buffer import Sample, TelemetryBuffer


def test_buffer_backfills_in_order_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "buffer.db"
    buf = TelemetryBuffer(path)
    for t in (300.0, 100.0, 200.0):
        assert buf.add("meter-1.power", t, t / 10)
    assert not buf.add("meter-1.power", 100.0, 99.0)  # the same record again
    received: list[Sample] = []
    up = False

    def send(samples: list[Sample]) -> bool:
        if not up:
            return False
        received.extend(samples)
        return True

    assert buf.flush(send) == 0 and buf.pending_count() == 3  # VTN down: kept
    buf.close()
    buf = TelemetryBuffer(path)  # the agent restarts: still there
    buf.add("meter-1.power", 400.0, 40.0)
    up = True
    assert buf.flush(send, batch=2) == 4
    assert [s.ts for s in received] == [100.0, 200.0, 300.0, 400.0]
    assert buf.flush(send) == 0
    assert len({(s.r_id, s.ts) for s in received}) == len(received)
    assert buf.prune(now_s=400.0 + 86400.0 + 1) == 4


def test_a_failing_sender_keeps_the_samples(tmp_path: Path) -> None:
    buf = TelemetryBuffer(tmp_path / "b.db")
    buf.add("evse-1.power", 1.0, 7.0)

    def boom(samples: list[Sample]) -> bool:
        raise ConnectionError("VTN unreachable")

    assert buf.flush(boom) == 0 and buf.pending_count() == 1


def test_add_many_stores_one_message_at_once_without_duplicates(tmp_path: Path) -> None:
    path = tmp_path / "many.db"
    buf = TelemetryBuffer(path)
    message = [("meter-1.power", 60.0, 1.5), ("meter-1.energy_import", 60.0, 12.0)]
    assert buf.add_many(message) == 2
    assert buf.add_many([*message, ("meter-1.power", 120.0, 1.6)]) == 1  # only the new one
    assert buf.add_many([]) == 0
    buf.mark_sent(buf.pending(2))
    buf.close()
    again = TelemetryBuffer(path)  # committed: there after a restart
    assert [(s.r_id, s.ts) for s in again.pending()] == [("meter-1.power", 120.0)]
