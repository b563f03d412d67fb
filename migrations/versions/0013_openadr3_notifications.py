"""OpenADR 3.1 notifications: the durable outbox of changes for the broker and the subscriptions' webhooks

Revision ID: 0013
Revises: 0012 (0008 before oa3-server was merged in; the lead re-chains)
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oa3_notifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rendered", sa.JSON(), nullable=True),
        sa.Column("destinations", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oa3_notifications")),
    )
    op.create_index("ix_oa3_notifications_due", "oa3_notifications", ["state", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_oa3_notifications_due", table_name="oa3_notifications")
    op.drop_table("oa3_notifications")
