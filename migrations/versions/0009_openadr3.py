"""OpenADR 3.1 face: OAuth2 clients, their access tokens, the 3.1 objects; a program for every
market context the stored events use

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 08:00:00.000000
"""

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "oa3_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("ven_name", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_oa3_clients")),
    )
    op.create_index(op.f("ix_oa3_clients_ven_name"), "oa3_clients", ["ven_name"])
    op.create_table(
        "oa3_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["oa3_clients.client_id"],
            name=op.f("fk_oa3_tokens_client_id_oa3_clients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oa3_tokens")),
    )
    op.create_index(op.f("ix_oa3_tokens_client_id"), "oa3_tokens", ["client_id"])
    op.create_index(op.f("ix_oa3_tokens_expires_at"), "oa3_tokens", ["expires_at"])
    objects = op.create_table(
        "oa3_objects",
        sa.Column("object_type", sa.String(length=16), nullable=False),
        sa.Column("object_id", sa.String(length=128), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("ven_id", sa.String(length=64), nullable=True),
        sa.Column("program_id", sa.String(length=128), nullable=True),
        sa.Column("event_id", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=128), nullable=True),
        sa.Column("unique_key", sa.String(length=300), nullable=True),
        sa.Column("market_context", sa.String(length=256), nullable=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ven_id"], ["vens.ven_id"], name=op.f("fk_oa3_objects_ven_id_vens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("object_type", "object_id", name=op.f("pk_oa3_objects")),
        sa.UniqueConstraint("object_type", "unique_key", name="uq_oa3_objects_unique_key"),
        sa.UniqueConstraint("market_context", name=op.f("uq_oa3_objects_market_context")),
    )
    op.create_index("ix_oa3_objects_ven", "oa3_objects", ["object_type", "ven_id"])
    op.create_index(op.f("ix_oa3_objects_program_id"), "oa3_objects", ["program_id"])
    op.create_index(op.f("ix_oa3_objects_event_id"), "oa3_objects", ["event_id"])
    # Every market context already in use is a program (aggregator/openadr3_programs.py names them
    # the same way: the context itself, or a hash-suffixed cut of a longer one).
    contexts = [row[0] for row in op.get_bind().execute(sa.text("SELECT DISTINCT market_context FROM events"))]
    now = datetime.now(UTC)
    rows = []
    for context in sorted(contexts):
        name = context if len(context) <= 128 else context[:111] + "#" + hashlib.sha256(context.encode()).hexdigest()[:16]
        rows.append(
            {
                "object_type": "PROGRAM",
                "object_id": uuid.uuid4().hex,
                "name": name,
                "unique_key": name,
                "market_context": context,
                "body": {"programName": name},
                "created_at": now,
                "modified_at": now,
            }
        )
    if rows:
        op.bulk_insert(objects, rows)


def downgrade() -> None:
    op.drop_table("oa3_objects")
    op.drop_table("oa3_tokens")
    op.drop_table("oa3_clients")
