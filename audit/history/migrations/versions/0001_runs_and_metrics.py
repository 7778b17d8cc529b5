"""The first schema: runs (stored result, verdict, hashes, released flag) and the narrow metrics table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSONDoc = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("model_name", sa.String(255), nullable=False),
        sa.Column("source", sa.String(32), nullable=True),
        sa.Column("tool_version", sa.String(32), nullable=True),
        sa.Column("audit_json_sha256", sa.String(64), nullable=True),
        sa.Column("model_sha256", sa.String(64), nullable=True),
        sa.Column("data_sha256", sa.String(64), nullable=True),
        sa.Column("gate_passed", sa.Boolean, nullable=False),
        sa.Column("gate_informational", sa.Boolean, nullable=False),
        sa.Column("released", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("result", JSONDoc, nullable=False),
    )
    op.create_index("ix_runs_audit_json_sha256", "runs", ["audit_json_sha256"])
    op.create_index("ix_runs_model_name_id", "runs", ["model_name", "id"])
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.Integer, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("run_metrics")
    op.drop_index("ix_runs_model_name_id", table_name="runs")
    op.drop_index("ix_runs_audit_json_sha256", table_name="runs")
    op.drop_table("runs")
