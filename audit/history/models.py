"""The tables of the history database (the current schema; ``migrations/`` creates and upgrades it).

``runs``: one row per ``audit run``: the stored result (JSON, numbers only), verdict, hashes and the
release flag. ``run_metrics``: the key metrics in a narrow (long) table, one row per (run, metric),
for trends. ``gate_verdicts``: each ``audit gate`` re-evaluation of a stored run. ``signoffs``: each
``audit sign`` of a run's report.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of the history tables."""


#: JSON documents: ``jsonb`` on PostgreSQL, JSON text on SQLite.
JSONDoc = JSON().with_variant(JSONB(), "postgresql")


class Run(Base):
    """One recorded ``audit run``."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    name: Mapped[str] = mapped_column(String(255))
    model_name: Mapped[str] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(32))
    tool_version: Mapped[str | None] = mapped_column(String(32))
    #: sha256 of the audit.json text as written: how ``audit gate`` finds the run it re-evaluates
    audit_json_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    #: sha256 of the report.html the run wrote: what ``audit sign`` checks the signed file against
    report_sha256: Mapped[str | None] = mapped_column(String(64))
    #: sha256 over the model artifacts' digests (null for a predictions file)
    model_sha256: Mapped[str | None] = mapped_column(String(64))
    #: sha256 over the data files' or predictions files' digests
    data_sha256: Mapped[str | None] = mapped_column(String(64))
    gate_passed: Mapped[bool] = mapped_column(Boolean)
    gate_informational: Mapped[bool] = mapped_column(Boolean)
    released: Mapped[bool] = mapped_column(Boolean, default=False)
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    release_forced: Mapped[bool] = mapped_column(Boolean, default=False)
    release_reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any]] = mapped_column(JSONDoc)

    metrics: Mapped[list[RunMetric]] = relationship(back_populates="run", cascade="all, delete-orphan")
    gates: Mapped[list[GateVerdict]] = relationship(back_populates="run", cascade="all, delete-orphan",
                                                    order_by="GateVerdict.id")
    signoffs: Mapped[list[Signoff]] = relationship(back_populates="run", cascade="all, delete-orphan",
                                                   order_by="Signoff.id")

    __table_args__ = (Index("ix_runs_model_name_id", "model_name", "id"),)


class RunMetric(Base):
    """One key metric of one run (a row is absent where the metric is undefined or was not measured)."""

    __tablename__ = "run_metrics"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[float] = mapped_column(Float)

    run: Mapped[Run] = relationship(back_populates="metrics")


class GateVerdict(Base):
    """One ``audit gate`` re-evaluation of a stored run."""

    __tablename__ = "gate_verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    passed: Mapped[bool] = mapped_column(Boolean)
    policy_source: Mapped[str | None] = mapped_column(Text)
    checklist_source: Mapped[str | None] = mapped_column(Text)
    verdict: Mapped[dict[str, Any]] = mapped_column(JSONDoc)

    run: Mapped[Run] = relationship(back_populates="gates")


class Signoff(Base):
    """One reviewer's ``audit sign`` of a run's report (the report itself is never edited)."""

    __tablename__ = "signoffs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    signed_by: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(255))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str | None] = mapped_column(Text)
    report_sha256: Mapped[str] = mapped_column(String(64))

    run: Mapped[Run] = relationship(back_populates="signoffs")
