"""run origin: whether a run was made on this server or uploaded as a migscope trace

Revision ID: 0008_run_origin
Revises: 0007_run_every_pass
Create Date: 2026-12-03

A run's `export.json` uploaded back (POST /api/imports field `migscope_trace`) is stored as
the trace it is, `source` included, so it re-exports byte for byte; where it came from is
recorded here, outside the trace: `origin` `uploaded` and the uploaded file's name. Runs
stored before this revision were all made here (simulated, or imported from QEMU logs), or
uploaded before anything recorded it: they get `here`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_run_origin"
down_revision = "0007_run_every_pass"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # add_column only: SQLite adds them in place (no table copy), PostgreSQL fills the default.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("origin", sa.String(16), nullable=False, server_default="here"))
        batch.add_column(sa.Column("uploaded_file_name", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("uploaded_file_name")
        batch.drop_column("origin")
