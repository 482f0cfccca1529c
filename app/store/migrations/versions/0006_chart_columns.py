"""chart columns: a run's charted numbers column by column, in chunks of steps

Revision ID: 0006_chart_columns
Revises: 0005_run_access
Create Date: 2026-11-30

Charts read a time window from these chunks instead of extracting numbers from every stored
step's JSON (app/store/chart_columns.py). Runs stored before this revision get their columns
on first read.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_chart_columns"
down_revision = "0005_run_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chart_columns",
        sa.Column(
            "run_id",
            sa.String(length=32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key", sa.String(length=64), primary_key=True),
        sa.Column("chunk", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("first_ms", sa.Float(), nullable=False),
        sa.Column("last_ms", sa.Float(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("chart_columns")
