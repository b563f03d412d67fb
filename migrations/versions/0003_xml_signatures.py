"""XML signatures: per-VEN policy and the shared ReplayProtect nonce store

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 01:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signature_nonces",
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("ven_id", sa.String(length=64), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_signature_nonces")),
    )
    op.create_index(op.f("ix_signature_nonces_signed_at"), "signature_nonces", ["signed_at"], unique=False)
    with op.batch_alter_table("vens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("xml_signatures", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("vens", schema=None) as batch_op:
        batch_op.drop_column("xml_signatures")
    op.drop_index(op.f("ix_signature_nonces_signed_at"), table_name="signature_nonces")
    op.drop_table("signature_nonces")
