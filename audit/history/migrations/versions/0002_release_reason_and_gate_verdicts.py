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
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("released_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("release_forced", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("release_reason", sa.Text, nullable=True))
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
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("release_reason")
        batch.drop_column("release_forced")
        batch.drop_column("released_at")
