"""Report values: room in the rID for a resource status field's path

A standard oadrPayloadResourceStatus is stored as one report value per field, under its rID
followed by the field's path (`charger/oadrPercentOffset/oadrCurrent`, at most 30 characters
more): the column grows from 128 to 158, while an rID a VEN sends stays limited to 128.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_values", schema=None) as batch_op:
        batch_op.alter_column(
            "r_id", existing_type=sa.String(length=128), type_=sa.String(length=158), existing_nullable=False
        )


def downgrade() -> None:
    # Only fields of resource statuses of the longest rIDs need more than 128 characters; the
    # older schema cannot hold them (nor did the older code store any resource status).
    op.execute("DELETE FROM report_values WHERE length(r_id) > 128")
    with op.batch_alter_table("report_values", schema=None) as batch_op:
        batch_op.alter_column(
            "r_id", existing_type=sa.String(length=158), type_=sa.String(length=128), existing_nullable=False
        )
