"""DR performance and settlement: programs' terms and closed months' statements

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "program_terms",
        sa.Column("market_context", sa.String(length=256), nullable=False),
        sa.Column("reward_eur_per_kwh", sa.Float(), nullable=False),
        sa.Column("penalty_eur_per_kwh", sa.Float(), nullable=False),
        sa.Column("baseline_method", sa.String(length=32), nullable=False),
        sa.Column("committed_kw", sa.Float(), nullable=True),
        sa.Column("reward_cap_eur", sa.Float(), nullable=True),
        sa.Column("penalty_cap_eur", sa.Float(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("market_context", name=op.f("pk_program_terms")),
    )
    op.create_table(
        "settlement_statements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("market_context", sa.String(length=256), nullable=False),
        sa.Column("site_id", sa.String(length=128), nullable=False),
        sa.Column("ven_id", sa.String(length=64), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_statements")),
        sa.UniqueConstraint("month", "market_context", "site_id", name=op.f("uq_settlement_statements_month")),
    )


def downgrade() -> None:
    op.drop_table("settlement_statements")
    op.drop_table("program_terms")
