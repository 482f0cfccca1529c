"""run every_pass: whether a run was stored with one step per pass

Revision ID: 0007_run_every_pass
Revises: 0006_chart_columns
Create Date: 2026-12-03

Stored runs collapse runs of alike pre-copy passes into one step (app/engine/collapse.py);
a run asked for with `every_pass` keeps one step per pass. Runs stored before this revision
were all collapsed, so they get false.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_run_every_pass"
down_revision = "0006_chart_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column only: SQLite adds it in place (no table copy), PostgreSQL fills the default.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(
            sa.Column("every_pass", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("every_pass")
