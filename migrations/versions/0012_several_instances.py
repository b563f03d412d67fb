"""Several VTN instances on one database: the planning loop's state, re-plan requests, notifications

The loop's state (the last day-ahead run, the homes it excluded) and the re-plan requests any
instance received are stored, so the instance that takes the loop over resumes from them. On
PostgreSQL, triggers NOTIFY the other instances of what their poll caches must know at once (a
message queued for a VEN, a changed registration) and the leader of a new re-plan request; a
notification is sent when its transaction commits, so a listener always finds the rows.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 08:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (function, channel, payload, table, events): the channels vtn/db/listener.py listens on.
NOTIFY_TRIGGERS = (
    ("flexvpp_notify_outbox", "flexvpp_outbox", "NEW.ven_id", "outbox", "INSERT OR UPDATE OF payload"),
    (
        "flexvpp_notify_registration",
        "flexvpp_registration",
        "NEW.ven_id",
        "vens",
        "UPDATE OF registration_id",
    ),
    ("flexvpp_notify_replan", "flexvpp_replan", "NEW.id::text", "replan_requests", "INSERT"),
)


def upgrade() -> None:
    op.create_table(
        "loop_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_loop_state")),
    )
    op.create_table(
        "loop_exclusions",
        sa.Column("ven_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("fixed_kw", sa.Float(), nullable=False),
        sa.Column("excluded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ven_id"], ["vens.ven_id"], name=op.f("fk_loop_exclusions_ven_id_vens"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("ven_id", name=op.f("pk_loop_exclusions")),
    )
    op.create_table(
        "replan_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("on_demand", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.String(length=64), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_replan_requests")),
    )
    op.create_index("ix_replan_requests_pending", "replan_requests", ["done_at", "id"])
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite serves one instance: nobody to tell
    for function, channel, payload, table, events in NOTIFY_TRIGGERS:
        op.execute(
            f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{channel}', {payload}); RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {function} AFTER {events} ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {function}()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for function, _channel, _payload, table, _events in NOTIFY_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {function} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_index("ix_replan_requests_pending", table_name="replan_requests")
    op.drop_table("replan_requests")
    op.drop_table("loop_exclusions")
    op.drop_table("loop_state")
