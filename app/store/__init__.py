"""The store: SQLModel tables, queries and Alembic migrations."""

from . import chart_columns  # noqa: F401  (registers the chart_columns table with the others)
