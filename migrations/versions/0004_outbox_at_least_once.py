"""Outbox delivered at least once: sends, the requestID they carry, acknowledgement

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("send_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("written_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("acked_at", sa.DateTime(timezone=True), nullable=True))
    # Messages delivered before this revision went out once, when they were marked delivered
    # (a dropped VEN's answer to a cancellation is checked against the sends).
    op.execute("UPDATE outbox SET sent_at = delivered_at, send_count = 1 WHERE delivered_at IS NOT NULL")


def downgrade() -> None:
    # A message sent but not yet acknowledged counts as delivered under the old rule.
    op.execute("UPDATE outbox SET delivered_at = sent_at WHERE delivered_at IS NULL AND sent_at IS NOT NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("acked_at")
        batch_op.drop_column("written_at")
        batch_op.drop_column("send_count")
        batch_op.drop_column("sent_at")
        batch_op.drop_column("request_id")
