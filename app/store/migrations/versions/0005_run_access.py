"""run access: visibility, pinning, stored size and the stored-completely flag

Revision ID: 0005_run_access
Revises: 0004
Create Date: 2026-11-30

`visibility` (listed or unlisted: an unlisted run opens by its link but is not in the runs
list), `pinned` (retention never deletes it), `stored_bytes` (what retention counts) and
`complete` (a run is written in batches, so no transaction holds SQLite's write lock for long;
readers see it only once the last batch is in). Existing runs are listed, unpinned, complete.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_run_access"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("visibility", sa.String(length=16), nullable=False, server_default="listed")
        )
        batch.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("stored_bytes", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("complete", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.create_index("ix_runs_listed_created_at", "runs", ["complete", "visibility", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_runs_listed_created_at", table_name="runs")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("complete")
        batch.drop_column("stored_bytes")
        batch.drop_column("pinned")
        batch.drop_column("visibility")
