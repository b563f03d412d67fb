"""Site notifications: the households' webhooks and their durable outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_notifications",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_site_notifications")),
    )
    op.create_index("ix_site_notifications_due", "site_notifications", ["state", "next_attempt_at"])
    op.create_index("ix_site_notifications_site", "site_notifications", ["site_id", "created_at"])
    op.create_table(
        "site_webhooks",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_webhooks")),
    )


def downgrade() -> None:
    op.drop_table("site_webhooks")
    op.drop_index("ix_site_notifications_site", table_name="site_notifications")
    op.drop_index("ix_site_notifications_due", table_name="site_notifications")
    op.drop_table("site_notifications")
