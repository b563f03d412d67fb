"""The VTN's TLS connections read into 16 KiB buffers, not asyncio's 256 KiB (memory per VEN)."""

from __future__ import annotations

import asyncio
import ssl
from asyncio import sslproto

import pytest

from vtn.tls import TLS_READ_BUFFER_BYTES, limit_tls_read_buffers


async def test_a_new_tls_connection_gets_the_small_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sslproto.SSLProtocol, "max_size", sslproto.SSLProtocol.max_size)  # restored after
    loop = asyncio.get_running_loop()
    context = ssl.create_default_context()

    def buffer_bytes() -> int:
        protocol = sslproto.SSLProtocol(loop, asyncio.Protocol(), context, loop.create_future())
        return len(protocol._ssl_buffer)  # what each connection keeps resident

    assert buffer_bytes() == 256 * 1024  # asyncio's own: why this exists
    limit_tls_read_buffers()
    assert buffer_bytes() == TLS_READ_BUFFER_BYTES == 16 * 1024
