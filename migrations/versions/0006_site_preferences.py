"""Site preferences: what a household sets in its app (charge mode, target, departure, ...)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_preferences",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("charge_mode", sa.String(length=8), nullable=False),
        sa.Column("ev_target_kwh", sa.Float(), nullable=True),
        sa.Column("departure_local", sa.String(length=5), nullable=True),
        sa.Column("departure_by_weekday", sa.JSON(), nullable=True),
        sa.Column("solar_min_kwh", sa.Float(), nullable=True),
        sa.Column("battery_reserve_percent", sa.Float(), nullable=True),
        sa.Column("max_peak_kw", sa.Float(), nullable=True),
        sa.Column("notify_url", sa.String(length=2048), nullable=True),
        sa.Column("charging_action", sa.String(length=8), nullable=True),
        sa.Column("charging_action_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_preferences")),
    )


def downgrade() -> None:
    op.drop_table("site_preferences")
