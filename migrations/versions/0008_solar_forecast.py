"""Solar forecast: the sites' PV arrays and the regions' latest irradiance forecasts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "site_pv",
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("latitude_deg", sa.Float(), nullable=False),
        sa.Column("longitude_deg", sa.Float(), nullable=False),
        sa.Column("peak_power_kw", sa.Float(), nullable=False),
        sa.Column("tilt_deg", sa.Float(), nullable=False),
        sa.Column("azimuth_deg", sa.Float(), nullable=False),
        sa.Column("losses_percent", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("site_id", name=op.f("pk_site_pv")),
    )
    op.create_table(
        "irradiance_forecasts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("latitude_deg", sa.Float(), nullable=False),
        sa.Column("longitude_deg", sa.Float(), nullable=False),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolution_minutes", sa.Integer(), nullable=False),
        sa.Column("ghi_w_per_m2", sa.JSON(), nullable=False),
        sa.Column("temp_air_c", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_irradiance_forecasts")),
        sa.UniqueConstraint(
            "latitude_deg", "longitude_deg", name=op.f("uq_irradiance_forecasts_latitude_deg")
        ),
    )


def downgrade() -> None:
    op.drop_table("irradiance_forecasts")
    op.drop_table("site_pv")
