"""runs.status for listings, and indexes for newest-first pages and time-range series

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Runs stored under 0001 get their status copied out of their summary JSON, so they list
and open exactly like new ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_runs = sa.table(
    "runs",
    sa.column("id", sa.String()),
    sa.column("summary", sa.JSON()),
    sa.column("status", sa.String()),
)


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("status", sa.String(), nullable=True))
    connection = op.get_bind()
    for run_id, summary in connection.execute(sa.select(_runs.c.id, _runs.c.summary)).all():
        status = (summary or {}).get("status") or "unknown"
        connection.execute(_runs.update().where(_runs.c.id == run_id).values(status=status))
    with op.batch_alter_table("runs") as batch:
        batch.alter_column("status", existing_type=sa.String(), nullable=False)
        batch.create_index("ix_runs_created_at", ["created_at"])
    op.create_index("ix_steps_run_id_end_ms", "steps", ["run_id", "end_ms"])


def downgrade() -> None:
    op.drop_index("ix_steps_run_id_end_ms", table_name="steps")
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_created_at")
        batch.drop_column("status")
