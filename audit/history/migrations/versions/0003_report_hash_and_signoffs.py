"""The report's sha256 with every run, and the sign-offs of reports (``audit sign``).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (as 0002): runs recorded before it have no report hash and cannot be signed.
    op.add_column("runs", sa.Column("report_sha256", sa.String(64), nullable=True))
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("signed_by", sa.String(255), nullable=False),
        sa.Column("role", sa.String(255), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("statement", sa.Text, nullable=True),
        sa.Column("report_sha256", sa.String(64), nullable=False),
    )
    op.create_index("ix_signoffs_run_id", "signoffs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_signoffs_run_id", table_name="signoffs")
    op.drop_table("signoffs")
    op.drop_column("runs", "report_sha256")  # SQLite >= 3.35 drops columns in place
