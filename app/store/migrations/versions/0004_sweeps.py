"""sweeps: parameter sweeps and their finished points

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

A sweep row holds the base scenario and the axes; each finished point is one row of
sweep_points, so a sweep survives a restart and resumes with the points not stored yet.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sweeps",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("engine_version", sa.String(), nullable=False),
        sa.Column("base_scenario", sa.JSON(), nullable=False),
        sa.Column("vary", sa.JSON(), nullable=False),
        sa.Column("axes", sa.JSON(), nullable=False),
        sa.Column("compare_ack", sa.Boolean(), nullable=False),
        sa.Column("max_steps", sa.Integer(), nullable=False),
        sa.Column("point_count", sa.Integer(), nullable=False),
        sa.Column("done_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sweeps_created_at", "sweeps", ["created_at"])
    op.create_index("ix_sweeps_status", "sweeps", ["status"])
    op.create_table(
        "sweep_points",
        sa.Column(
            "sweep_id",
            sa.String(length=32),
            sa.ForeignKey("sweeps.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("index", sa.Integer(), primary_key=True),
        sa.Column("axis_values", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("downtime_ms", sa.Float(), nullable=True),
        sa.Column("total_time_ms", sa.Float(), nullable=True),
        sa.Column("ack_received_at_ms", sa.Float(), nullable=True),
        sa.Column("dirty_sync_count", sa.Integer(), nullable=True),
        sa.Column("transferred_bytes", sa.BigInteger(), nullable=True),
        sa.Column("off_status", sa.String(length=16), nullable=True),
        sa.Column("off_downtime_ms", sa.Float(), nullable=True),
        sa.Column("off_total_time_ms", sa.Float(), nullable=True),
        sa.Column("ack_saves_ms", sa.Float(), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("off_run_id", sa.String(length=32), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("sweep_points")
    op.drop_index("ix_sweeps_status", table_name="sweeps")
    op.drop_index("ix_sweeps_created_at", table_name="sweeps")
    op.drop_table("sweeps")
