"""Release details (when, forced, the reason given) and the verdicts of ``audit gate`` re-evaluations.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    # Plain ADD COLUMNs (a constant default), never a batch "move and copy": on SQLite with foreign keys
    # on, dropping the old runs table would cascade-delete every run_metrics row.
    op.add_column("runs", sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("runs", sa.Column("release_forced", sa.Boolean, nullable=False, server_default="0"))
    op.add_column("runs", sa.Column("release_reason", sa.Text, nullable=True))
    op.create_table(
        "gate_verdicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("policy_source", sa.Text, nullable=True),
        sa.Column("checklist_source", sa.Text, nullable=True),
        sa.Column("verdict", JSONDoc, nullable=False),
    )
    op.create_index("ix_gate_verdicts_run_id", "gate_verdicts", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_gate_verdicts_run_id", table_name="gate_verdicts")
    op.drop_table("gate_verdicts")
    for column in ("release_reason", "release_forced", "released_at"):
        op.drop_column("runs", column)  # SQLite >= 3.35 drops columns in place
