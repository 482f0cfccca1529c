"""presentations: a teacher's presenter sessions that a class follows

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

The presenter's current step lives in the database (not in a worker's memory), so followers
served by any worker or host see it move.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "presentations",
        sa.Column("session_id", sa.String(length=32), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(length=32),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("presenter_key_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_presentations_run_id", "presentations", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_presentations_run_id", table_name="presentations")
    op.drop_table("presentations")
