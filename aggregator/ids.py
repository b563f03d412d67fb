"""The IDs the VTN makes up (eventID, signalID, ...): random, so that no two workers collide."""

from __future__ import annotations

import uuid


def new_id() -> str:
    return uuid.uuid4().hex
